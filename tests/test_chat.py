from clusterkit.chat import extract_prompt


def test_plain_string_is_the_prompt():
    assert extract_prompt("what is 2+2").text == "what is 2+2"


def test_openai_chat_completions_body():
    body = {
        "model": "gpt-x",
        "temperature": 0.2,
        "messages": [
            {"role": "system", "content": "be terse"},
            {"role": "user", "content": "first question"},
            {"role": "assistant", "content": "an answer"},
            {"role": "user", "content": "follow-up question"},
        ],
    }
    p = extract_prompt(body)
    assert p.text == "follow-up question"
    assert p.system == "be terse"
    assert p.model == "gpt-x"
    assert p.n_turns == 4 and p.messages == body["messages"]
    assert p.params == {"temperature": 0.2}


def test_openai_developer_role_and_text_parts():
    body = {
        "messages": [
            {"role": "developer", "content": [{"type": "text", "text": "rules"}]},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "look at"},
                    {"type": "image_url", "image_url": {}},
                    {"type": "text", "text": "this"},
                ],
            },
        ]
    }
    p = extract_prompt(body)
    assert p.text == "look at\nthis"
    assert p.system == "rules"
    assert p.other_blocks == ("image_url",)


def test_anthropic_messages_body():
    body = {
        "model": "claude-x",
        "max_tokens": 100,
        "system": [{"type": "text", "text": "You grade answers."}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "grade this"}, {"type": "image", "source": {}}]}
        ],
    }
    p = extract_prompt(body)
    assert (p.text, p.system, p.model) == ("grade this", "You grade answers.", "claude-x")
    assert p.other_blocks == ("image",)


def test_bare_messages_list_and_image_only_turn():
    p = extract_prompt([{"role": "user", "content": [{"type": "image", "source": {}}]}])
    assert p.text is None and p.other_blocks == ("image",)


def test_responses_api_and_legacy_completions():
    assert extract_prompt({"input": "hi there", "instructions": "sys"}).text == "hi there"
    assert extract_prompt({"input": "hi there", "instructions": "sys"}).system == "sys"
    assert extract_prompt({"model": "m", "prompt": "complete me"}).text == "complete me"


def test_json_string_body_as_in_csv_logs():
    body = '{"messages": [{"role": "user", "content": "from csv"}]}'
    assert extract_prompt(body, decode_json=True).text == "from csv"
    assert extract_prompt('{"not": "a chat"}', decode_json=True).text == '{"not": "a chat"}'
    # In JSON logs a string prompt is taken as written, even when it looks like a body.
    assert extract_prompt(body).text == body


def test_no_user_turn_gives_no_text():
    assert extract_prompt({"messages": [{"role": "system", "content": "x"}]}).text is None
    assert extract_prompt({"foo": 1}).text is None
