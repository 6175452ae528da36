"""A small built-in prompt generator, so the demo and tests need no external data.

It composes prompts from capability areas, subjects and phrasings: varied enough to form
realistic topic clusters, small enough to read. Real corpora (``--corpora``) replace it.
"""

from __future__ import annotations

import random

__all__ = ["AREAS", "chinese_tasks", "organic_prompts", "popular_prompts", "task_prompts"]

AREAS: dict[str, list[str]] = {
    "python": [
        "list comprehensions",
        "decorators",
        "async await",
        "pandas groupby",
        "virtual environments",
        "type hints",
        "generators",
        "dataclasses",
        "exception handling",
        "unit tests with pytest",
    ],
    "sql": [
        "window functions",
        "left joins",
        "indexes",
        "query plans",
        "CTEs",
        "normalisation",
        "transactions",
        "GROUP BY with HAVING",
        "NULL handling",
        "date truncation",
    ],
    "javascript": [
        "promises",
        "closures",
        "the event loop",
        "React hooks",
        "TypeScript generics",
        "fetch and CORS",
        "array methods",
        "modules",
        "debouncing",
        "Node streams",
    ],
    "math": [
        "eigenvalues",
        "integration by parts",
        "Bayes' theorem",
        "modular arithmetic",
        "prime numbers",
        "the chain rule",
        "matrix inverses",
        "combinatorics",
        "limits",
        "Taylor series",
    ],
    "physics": [
        "special relativity",
        "entropy",
        "quantum tunnelling",
        "Newton's laws",
        "electromagnetic waves",
        "black holes",
        "friction",
        "orbital mechanics",
        "the photoelectric effect",
        "thermodynamics",
    ],
    "chemistry": [
        "covalent bonds",
        "pH and buffers",
        "reaction kinetics",
        "organic functional groups",
        "electrochemistry",
        "stoichiometry",
        "catalysts",
        "isomers",
        "gas laws",
        "oxidation states",
    ],
    "biology": [
        "CRISPR",
        "photosynthesis",
        "mitochondria",
        "the immune system",
        "evolution by natural selection",
        "DNA replication",
        "neurons",
        "protein folding",
        "ecosystems",
        "cell division",
    ],
    "medicine": [
        "high blood pressure",
        "migraines",
        "vitamin D deficiency",
        "type 2 diabetes",
        "sleep apnea",
        "antibiotic resistance",
        "seasonal allergies",
        "back pain",
        "cholesterol",
        "concussions",
    ],
    "law": [
        "tenant rights",
        "copyright fair use",
        "non-compete clauses",
        "small claims court",
        "GDPR consent",
        "wills and probate",
        "employment contracts",
        "trademark registration",
        "liability waivers",
        "patents",
    ],
    "finance": [
        "index funds",
        "compound interest",
        "Roth IRAs",
        "inflation",
        "mortgage refinancing",
        "credit scores",
        "stock options",
        "bond yields",
        "budgeting",
        "capital gains tax",
    ],
    "history": [
        "the Roman empire",
        "the French revolution",
        "the Cold War",
        "the Silk Road",
        "the Meiji restoration",
        "the printing press",
        "World War I",
        "the Ottoman empire",
        "ancient Egypt",
        "the Renaissance",
    ],
    "cooking": [
        "sourdough bread",
        "risotto",
        "knife skills",
        "fermenting kimchi",
        "a vegan curry",
        "meal prep",
        "pan sauces",
        "baking macarons",
        "smoking brisket",
        "homemade pasta",
    ],
    "travel": [
        "a week in Japan",
        "budget trips to Portugal",
        "hiking in Patagonia",
        "train travel in Europe",
        "visiting Iceland in winter",
        "a weekend in New York",
        "backpacking Vietnam",
        "Morocco",
        "Peru",
        "Norway",
    ],
    "fitness": [
        "strength training",
        "marathon training",
        "stretching routines",
        "protein intake",
        "HIIT",
        "losing weight safely",
        "yoga for beginners",
        "recovering from injury",
        "home workouts",
        "swimming",
    ],
    "writing": [
        "a cover letter",
        "a wedding speech",
        "a short story opening",
        "a product description",
        "a LinkedIn post",
        "a poem about autumn",
        "an apology email",
        "a blog intro",
        "a haiku",
        "a eulogy",
    ],
    "ml": [
        "gradient descent",
        "overfitting",
        "transformers",
        "attention",
        "random forests",
        "cross-validation",
        "embeddings",
        "reinforcement learning",
        "batch normalisation",
        "LoRA fine-tuning",
    ],
    "devops": [
        "Docker volumes",
        "Kubernetes deployments",
        "CI pipelines",
        "nginx reverse proxies",
        "SSH keys",
        "Terraform state",
        "log rotation",
        "systemd services",
        "TLS certificates",
        "git rebase",
    ],
    "economics": [
        "supply and demand",
        "interest rates",
        "tariffs",
        "GDP",
        "opportunity cost",
        "monetary policy",
        "game theory",
        "unemployment",
        "externalities",
        "price elasticity",
    ],
}

_ORGANIC_FRAMES = [
    "can you explain {s} in simple terms?",
    "how do I get started with {s}",
    "what's the difference between {s} and {t}?",
    "I'm confused about {s}. any tips?",
    "give me a quick summary of {s}",
    "why is {s} important",
    "what are common mistakes with {s}?",
    "best resources to learn {s}",
    "help me understand {s} please, I have an exam tomorrow",
    "is it true that {s} is overrated?",
    "{s} explained like I'm five",
    "write a short example about {s}",
]

_TASK_FRAMES = [
    "Explain {s} in depth, covering definitions, key mechanisms, and a worked example.",
    "Write a detailed tutorial on {s} for an intermediate learner, with exercises.",
    "Compare and contrast {s} and {t}. Provide a table of differences.",
    "List ten advanced interview questions about {s} and answer each thoroughly.",
    "Describe the most common misconceptions about {s} and correct each one.",
    "Design a step-by-step lesson plan that teaches {s} from first principles.",
    "Give three realistic scenarios involving {s} and analyse each in detail.",
    "Summarise the state of the art in {s} and its open problems.",
]

_ZH_AREAS = {
    "编程": ["Python 装饰器", "数据库索引", "异步编程", "递归算法", "单元测试"],
    "数学": ["微积分", "线性代数", "概率论", "数论", "几何证明"],
    "物理": ["相对论", "量子力学", "热力学", "电磁学", "经典力学"],
    "历史": ["唐朝", "丝绸之路", "工业革命", "明朝", "罗马帝国"],
    "经济": ["通货膨胀", "供需关系", "货币政策", "国际贸易", "博弈论"],
}
_ZH_FRAMES = [
    "请详细解释{s}的基本原理，并给出一个例子。",
    "请写一篇关于{s}的教程，适合中级学习者。",
    "比较{s}和{t}的异同，并用表格总结。",
    "列出关于{s}的十个面试问题并逐一详细回答。",
    "请分析{s}中常见的误解并加以纠正。",
]

_POPULAR = [
    "hi",
    "hello",
    "write a poem",
    "tell me a joke",
    "what can you do?",
    "thanks!",
    "test",
    "who are you",
    "hey",
    "write a poem about love",
]


def _fill(frame: str, subjects: list[str], rng: random.Random) -> str:
    s = rng.choice(subjects)
    t = rng.choice([x for x in subjects if x != s] or subjects)
    return frame.format(s=s, t=t)


def organic_prompts(rng: random.Random, n: int) -> list[str]:
    """Casual prompts over all areas, as ordinary users write them."""
    areas = list(AREAS)
    out = []
    for _ in range(n):
        subjects = AREAS[rng.choice(areas)]
        text = _fill(rng.choice(_ORGANIC_FRAMES), subjects, rng)
        if rng.random() < 0.3:
            text = text.capitalize()
        out.append(text)
    return out


def task_prompts(rng: random.Random, areas: list[str], n: int) -> list[str]:
    """Systematic, exhaustive task prompts over ``areas``: what a coverage sweep sends."""
    pool = [
        frame.format(s=s, t=t)
        for area in areas
        for frame in _TASK_FRAMES
        for s in AREAS[area]
        for t in AREAS[area]
        if s != t or "{t}" not in frame
    ]
    rng.shuffle(pool)
    seen = dict.fromkeys(pool)
    unique = list(seen)
    return [unique[i % len(unique)] for i in range(n)]


def chinese_tasks(rng: random.Random, n: int) -> list[str]:
    pool = [
        frame.format(s=s, t=t)
        for subjects in _ZH_AREAS.values()
        for frame in _ZH_FRAMES
        for s in subjects
        for t in subjects
        if s != t or "{t}" not in frame
    ]
    unique = list(dict.fromkeys(pool))
    rng.shuffle(unique)
    return [unique[i % len(unique)] for i in range(n)]


def popular_prompts() -> list[str]:
    return list(_POPULAR)
