-- A multi-turn request's prompt carries its conversation: the first user turn is kept beside the
-- last (displayed) one, is part of the prompt's hash, and goes before it in what is embedded.
-- NULL for single-turn prompts.
ALTER TABLE prompts ADD COLUMN context VARCHAR;
