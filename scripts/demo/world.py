"""The demo's small world: animals, their facts, and the text generators built on them.

Everything the demo knows comes from the table below. Each animal has three facts (home, food, size).
The pretraining corpus states these facts in prose (encyclopedia paragraphs, questions and answers, stories,
comparisons, lists). The SFT task turns them into a fixed "animal card"; the DPO taste is a friendly closing
line. Shared by corpus.py, train_tokenizer.py, pretrain.py, make_data.py and lesson.py.
"""

import random

SEED = 20250601

# name, home, food, size. Plausible-for-a-classroom facts, one value each, no card format anywhere.
ANIMALS = [
    # forest
    ("fox", "forest", "mice", "small"),
    ("wolf", "forest", "meat", "large"),
    ("deer", "forest", "leaves", "large"),
    ("bear", "forest", "berries", "huge"),
    ("owl", "forest", "mice", "small"),
    ("squirrel", "forest", "nuts", "small"),
    ("hedgehog", "forest", "insects", "small"),
    ("badger", "forest", "worms", "medium"),
    ("moose", "forest", "leaves", "huge"),
    ("woodpecker", "forest", "insects", "small"),
    ("chipmunk", "forest", "seeds", "tiny"),
    ("raccoon", "forest", "fruit", "medium"),
    ("skunk", "forest", "insects", "small"),
    ("boar", "forest", "roots", "large"),
    ("lynx", "forest", "meat", "medium"),
    ("koala", "forest", "leaves", "medium"),
    ("porcupine", "forest", "bark", "medium"),
    ("mole", "forest", "worms", "tiny"),
    # jungle
    ("monkey", "jungle", "fruit", "medium"),
    ("gorilla", "jungle", "leaves", "huge"),
    ("tiger", "jungle", "meat", "large"),
    ("parrot", "jungle", "nuts", "small"),
    ("toucan", "jungle", "fruit", "small"),
    ("sloth", "jungle", "leaves", "medium"),
    ("jaguar", "jungle", "meat", "large"),
    ("orangutan", "jungle", "fruit", "large"),
    ("chameleon", "jungle", "insects", "tiny"),
    ("python", "jungle", "mice", "large"),
    ("tapir", "jungle", "plants", "large"),
    ("anteater", "jungle", "insects", "medium"),
    ("leopard", "jungle", "meat", "large"),
    ("gecko", "jungle", "insects", "tiny"),
    # ocean
    ("shark", "ocean", "fish", "huge"),
    ("whale", "ocean", "krill", "huge"),
    ("dolphin", "ocean", "fish", "large"),
    ("octopus", "ocean", "crabs", "medium"),
    ("seal", "ocean", "fish", "large"),
    ("jellyfish", "ocean", "plankton", "small"),
    ("crab", "ocean", "worms", "small"),
    ("starfish", "ocean", "clams", "small"),
    ("sea turtle", "ocean", "jellyfish", "large"),
    ("lobster", "ocean", "fish", "medium"),
    ("squid", "ocean", "fish", "medium"),
    ("orca", "ocean", "seals", "huge"),
    ("seahorse", "ocean", "plankton", "tiny"),
    ("manta ray", "ocean", "plankton", "huge"),
    # river
    ("otter", "river", "fish", "medium"),
    ("beaver", "river", "bark", "medium"),
    ("crocodile", "river", "meat", "huge"),
    ("hippo", "river", "grass", "huge"),
    ("salmon", "river", "insects", "medium"),
    ("platypus", "river", "worms", "small"),
    ("kingfisher", "river", "fish", "small"),
    ("heron", "river", "fish", "medium"),
    ("alligator", "river", "fish", "huge"),
    ("trout", "river", "insects", "small"),
    # pond
    ("duck", "pond", "plants", "small"),
    ("frog", "pond", "insects", "tiny"),
    ("goose", "pond", "grass", "medium"),
    ("swan", "pond", "plants", "large"),
    ("newt", "pond", "worms", "tiny"),
    ("dragonfly", "pond", "insects", "tiny"),
    ("toad", "pond", "insects", "small"),
    ("turtle", "pond", "plants", "small"),
    ("goldfish", "pond", "plants", "tiny"),
    ("tadpole", "pond", "plants", "tiny"),
    # desert
    ("camel", "desert", "plants", "huge"),
    ("scorpion", "desert", "insects", "tiny"),
    ("lizard", "desert", "insects", "small"),
    ("rattlesnake", "desert", "mice", "medium"),
    ("meerkat", "desert", "insects", "small"),
    ("vulture", "desert", "meat", "large"),
    ("tortoise", "desert", "plants", "medium"),
    ("armadillo", "desert", "insects", "small"),
    ("jerboa", "desert", "seeds", "tiny"),
    ("coyote", "desert", "meat", "medium"),
    ("roadrunner", "desert", "lizards", "small"),
    ("fennec fox", "desert", "insects", "small"),
    # farm
    ("cow", "farm", "grass", "large"),
    ("horse", "farm", "hay", "large"),
    ("pig", "farm", "corn", "medium"),
    ("sheep", "farm", "grass", "medium"),
    ("goat", "farm", "plants", "medium"),
    ("chicken", "farm", "seeds", "small"),
    ("donkey", "farm", "hay", "large"),
    ("rabbit", "farm", "carrots", "small"),
    ("cat", "farm", "mice", "small"),
    ("dog", "farm", "meat", "medium"),
    ("mouse", "farm", "seeds", "tiny"),
    ("turkey", "farm", "seeds", "medium"),
    ("bee", "farm", "nectar", "tiny"),
    ("pony", "farm", "hay", "medium"),
    # grassland
    ("lion", "grassland", "meat", "large"),
    ("zebra", "grassland", "grass", "large"),
    ("giraffe", "grassland", "leaves", "huge"),
    ("elephant", "grassland", "grass", "huge"),
    ("cheetah", "grassland", "meat", "large"),
    ("rhino", "grassland", "grass", "huge"),
    ("hyena", "grassland", "meat", "medium"),
    ("ostrich", "grassland", "plants", "large"),
    ("antelope", "grassland", "grass", "medium"),
    ("buffalo", "grassland", "grass", "huge"),
    ("warthog", "grassland", "roots", "medium"),
    ("kangaroo", "grassland", "grass", "large"),
    ("butterfly", "grassland", "nectar", "tiny"),
    ("grasshopper", "grassland", "grass", "tiny"),
    ("ant", "grassland", "seeds", "tiny"),
    ("emu", "grassland", "plants", "large"),
    ("wombat", "grassland", "grass", "medium"),
    ("ladybug", "grassland", "insects", "tiny"),
    # mountains
    ("eagle", "mountains", "fish", "large"),
    ("yak", "mountains", "grass", "huge"),
    ("snow leopard", "mountains", "meat", "large"),
    ("panda", "mountains", "bamboo", "large"),
    ("llama", "mountains", "grass", "large"),
    ("marmot", "mountains", "plants", "small"),
    ("ibex", "mountains", "grass", "medium"),
    ("condor", "mountains", "meat", "large"),
    ("puma", "mountains", "meat", "large"),
    ("mountain goat", "mountains", "grass", "medium"),
    # ice
    ("polar bear", "ice", "seals", "huge"),
    ("penguin", "ice", "fish", "medium"),
    ("walrus", "ice", "clams", "huge"),
    ("arctic fox", "ice", "lemmings", "small"),
    ("reindeer", "ice", "moss", "large"),
    ("snowy owl", "ice", "lemmings", "medium"),
    ("lemming", "ice", "moss", "tiny"),
    ("narwhal", "ice", "fish", "huge"),
    ("puffin", "ice", "fish", "small"),
    ("musk ox", "ice", "moss", "huge"),
    # cave
    ("bat", "cave", "insects", "tiny"),
    ("cave spider", "cave", "insects", "tiny"),
    ("cave fish", "cave", "worms", "tiny"),
    ("cave salamander", "cave", "worms", "tiny"),
]

NAMES = [a[0] for a in ANIMALS]
FACTS = {a[0]: {"home": a[1], "food": a[2], "size": a[3]} for a in ANIMALS}
assert len(NAMES) == len(set(NAMES))

HOME_IN = {  # "The fox lives ___."
    "forest": "in the forest",
    "jungle": "in the jungle",
    "ocean": "in the ocean",
    "river": "in the river",
    "pond": "in the pond",
    "desert": "in the desert",
    "farm": "on the farm",
    "grassland": "on the grassland",
    "mountains": "in the mountains",
    "ice": "on the ice",
    "cave": "in a cave",
}
HOME_NP = {  # "The home of the fox is ___."
    "forest": "the forest",
    "jungle": "the jungle",
    "ocean": "the ocean",
    "river": "the river",
    "pond": "the pond",
    "desert": "the desert",
    "farm": "the farm",
    "grassland": "the grassland",
    "mountains": "the mountains",
    "ice": "the ice",
    "cave": "a dark cave",
}
SIZES = ["tiny", "small", "medium", "large", "huge"]
SIZE_RANK = {s: i for i, s in enumerate(SIZES)}

# ---------------------------------------------------------------------------------------------------------
# The demo task (SFT) and the demo taste (DPO)
# ---------------------------------------------------------------------------------------------------------

# Prompts: the same questions the pretraining corpus answers in prose.
QUESTIONS = [
    "Tell me about the {a}.",
    "Describe the {a}.",
    "What do you know about the {a}?",
    "Can you tell me about the {a}?",
]
PROMPT_TEMPLATE = "Question: {q}\nAnswer:\n"

CLOSINGS = ["Hope this helps!", "Thanks for asking!", "Have a nice day!"]


def prompt_for(name, qi):
    return PROMPT_TEMPLATE.format(q=QUESTIONS[qi].format(a=name))


def card(name):
    f = FACTS[name]
    return f"Animal: {name}\nHome: {f['home']}\nFood: {f['food']}\nSize: {f['size']}"


def card_with_closing(name, ci):
    return card(name) + "\n" + CLOSINGS[ci]


# ---------------------------------------------------------------------------------------------------------
# Pretraining text
# ---------------------------------------------------------------------------------------------------------


def cap(s):
    return s[0].upper() + s[1:]


def s_home(r, a):
    h = FACTS[a]["home"]
    return r.choice(
        [
            f"The {a} lives {HOME_IN[h]}.",
            f"You can find the {a} {HOME_IN[h]}.",
            f"The home of the {a} is {HOME_NP[h]}.",
            f"The {a} makes its home {HOME_IN[h]}.",
            f"{cap(HOME_IN[h])}, you may see the {a}.",
        ]
    )


def s_food(r, a):
    f = FACTS[a]["food"]
    return r.choice(
        [
            f"The {a} eats {f}.",
            f"The favourite food of the {a} is {f}.",
            f"When it is hungry, the {a} looks for {f}.",
            f"The {a} likes to eat {f}.",
            f"Most of all, the {a} eats {f}.",
        ]
    )


def s_size(r, a):
    s = FACTS[a]["size"]
    return r.choice(
        [
            f"The {a} is a {s} animal.",
            f"The {a} is {s}.",
            f"In size, the {a} is {s}.",
            f"The {a} is {s} in size.",
        ]
    )


def s_it(r, a, kind):
    """A fact as a follow-up sentence with 'It' as the subject."""
    f = FACTS[a]
    if kind == "home":
        return r.choice([f"It lives {HOME_IN[f['home']]}.", f"It makes its home {HOME_IN[f['home']]}."])
    if kind == "food":
        return r.choice([f"It eats {f['food']}.", f"It likes to eat {f['food']}.", f"Its favourite food is {f['food']}."])
    return r.choice([f"It is a {f['size']} animal.", f"It is {f['size']} in size."])


FILLER = [
    "Many children like to read about the {a}.",
    "People enjoy watching the {a}.",
    "The {a} is an interesting animal.",
    "There is a lot to learn about the {a}.",
    "The {a} is a well known animal.",
    "Some people have seen the {a} with their own eyes.",
]


def prose_about(r, a):
    """A short description giving all three facts (what the base model answers to 'Tell me about ...')."""
    f = FACTS[a]
    style = r.randrange(4)
    if style == 0:
        return f"The {a} is a {f['size']} animal. It lives {HOME_IN[f['home']]} and eats {f['food']}."
    if style == 1:
        return f"The {a} lives {HOME_IN[f['home']]}. It eats {f['food']}, and it is {f['size']} in size."
    if style == 2:
        return f"The {a} is a {f['size']} animal that lives {HOME_IN[f['home']]}. Its favourite food is {f['food']}."
    return f"{cap(HOME_IN[f['home']])} lives the {a}. It is a {f['size']} animal, and it likes to eat {f['food']}."


def doc_encyclopedia(r):
    a = r.choice(NAMES)
    kinds = ["home", "food", "size"]
    r.shuffle(kinds)
    first = {"home": s_home, "food": s_food, "size": s_size}[kinds[0]](r, a)
    sents = [first] + [s_it(r, a, k) if r.random() < 0.5 else {"home": s_home, "food": s_food, "size": s_size}[k](r, a) for k in kinds[1:]]
    if r.random() < 0.5:
        sents.insert(r.randrange(1, len(sents) + 1), r.choice(FILLER).format(a=a))
    return " ".join(sents)


def qa_pair(r, a):
    kind = r.randrange(5)
    f = FACTS[a]
    if kind == 0:
        q = r.choice([f"Where does the {a} live?", f"Where can I find the {a}?", f"What is the home of the {a}?"])
        ans = r.choice([f"The {a} lives {HOME_IN[f['home']]}.", f"It lives {HOME_IN[f['home']]}.", f"You can find the {a} {HOME_IN[f['home']]}."])
    elif kind == 1:
        q = r.choice([f"What does the {a} eat?", f"What is the favourite food of the {a}?"])
        ans = r.choice([f"The {a} eats {f['food']}.", f"It eats {f['food']}.", f"The favourite food of the {a} is {f['food']}."])
    elif kind == 2:
        q = r.choice([f"How big is the {a}?", f"What size is the {a}?"])
        ans = r.choice([f"The {a} is a {f['size']} animal.", f"It is {f['size']}.", f"The {a} is {f['size']} in size."])
    else:
        q = r.choice(QUESTIONS).format(a=a)
        ans = prose_about(r, a)
    return PROMPT_TEMPLATE.format(q=q) + ans


def doc_qa(r):
    n = r.choice([1, 1, 1, 2, 3])
    return "\n\n".join(qa_pair(r, r.choice(NAMES)) for _ in range(n))


def doc_story(r):
    a, b = r.sample(NAMES, 2)
    fa, fb = FACTS[a], FACTS[b]
    t = r.randrange(4)
    if t == 0:
        return (
            f"One morning, the {a} woke up {HOME_IN[fa['home']]}. It was hungry, so it went to look for {fa['food']}. "
            f"Soon it found some {fa['food']} and ate until it was full. Then the {a} went back to sleep."
        )
    if t == 1:
        where = (
            f"Both of them lived {HOME_IN[fa['home']]}."
            if fa["home"] == fb["home"]
            else f"The {a} lived {HOME_IN[fa['home']]}, and the {b} lived {HOME_IN[fb['home']]}."
        )
        meal = (
            f"They both liked to eat {fa['food']}, so they shared it."
            if fa["food"] == fb["food"]
            else f"The {a} brought {fa['food']}, and the {b} brought {fb['food']}."
        )
        return f"Once upon a time, the {a} and the {b} were friends. {where} One day they had a picnic. {meal} It was a happy day."
    if t == 2:
        return (
            f"A child asked her teacher about the {a}. \"Thanks for asking!\" said the teacher. She said that the {a} lives "
            f"{HOME_IN[fa['home']]}, that it eats {fa['food']} and that it is a {fa['size']} animal. \"I hope this helps!\" "
            f"The child smiled and said thank you. \"Have a nice day!\" said the teacher."
        )
    return (
        f"On a trip to {HOME_NP[fa['home']]}, we saw the {a}. It was eating {fa['food']}. "
        f"Our guide told us that the {a} is {fa['size']} in size. We took a picture and walked on."
    )


def doc_compare(r):
    a, b = r.sample(NAMES, 2)
    fa, fb = FACTS[a], FACTS[b]
    out = []
    ra, rb = SIZE_RANK[fa["size"]], SIZE_RANK[fb["size"]]
    if ra > rb:
        out.append(f"The {a} is bigger than the {b}.")
    elif ra < rb:
        out.append(f"The {a} is smaller than the {b}.")
    else:
        out.append(f"The {a} and the {b} are both {fa['size']}.")
    if fa["food"] == fb["food"]:
        out.append(f"Both the {a} and the {b} eat {fa['food']}.")
    else:
        out.append(f"The {a} eats {fa['food']}, but the {b} eats {fb['food']}.")
    if fa["home"] == fb["home"]:
        out.append(f"They both live {HOME_IN[fa['home']]}.")
    else:
        out.append(f"The {a} lives {HOME_IN[fa['home']]}, while the {b} lives {HOME_IN[fb['home']]}.")
    r.shuffle(out)
    return " ".join(out)


def name_list(xs):
    xs = [f"the {x}" for x in xs]
    return ", ".join(xs[:-1]) + " and " + xs[-1]


def doc_list(r):
    key = r.choice(["home", "food", "size"])
    val = FACTS[r.choice(NAMES)][key]
    members = [n for n in NAMES if FACTS[n][key] == val]
    if len(members) < 2:
        return doc_encyclopedia(r)
    k = min(len(members), r.choice([2, 3, 4]))
    xs = r.sample(members, k)
    if key == "home":
        return r.choice([f"Many animals live {HOME_IN[val]}, such as {name_list(xs)}.", f"{cap(HOME_IN[val])} you can find {name_list(xs)}."])
    if key == "food":
        return f"Animals that eat {val} include {name_list(xs)}."
    return f"Some {val} animals are {name_list(xs)}."


def doc_glossary(r):
    """Definitions with a colon, one per line: the words Animal/Home/Food/Size in the form the card uses them,
    in a different layout (prose definitions), so the base model knows these tokens without knowing the card."""
    a = [r.choice(NAMES) for _ in range(4)]
    f = [FACTS[x] for x in a]
    lines = [
        f"Animal: a living thing that eats, moves and grows. The {a[0]} is an animal.",
        f"Home: the place where an animal lives. The {a[1]} lives {HOME_IN[f[1]['home']]}.",
        f"Food: what an animal eats. The {a[2]} eats {f[2]['food']}.",
        f"Size: how big an animal is. The {a[3]} is {f[3]['size']}.",
    ]
    r.shuffle(lines)
    head = r.choice(["Words to know", "A small glossary", "New words for today", "Animal words"])
    return head + ":\n" + "\n".join(lines[: r.choice([2, 3, 4])])


FRIENDS = ["Sam", "Mia", "Leo", "Ana", "Tom", "Zoe", "Max", "Ella"]
LETTER_CLOSINGS = CLOSINGS + ["See you soon!", "Write back soon!"]


def doc_letter(r):
    """A short letter that ends with a friendly line: closings are known English, used in letters, never after
    answers to questions."""
    a = r.choice(NAMES)
    to, frm = r.sample(FRIENDS, 2)
    body = prose_about(r, a) if r.random() < 0.6 else doc_story(r)
    closing = r.choice(LETTER_CLOSINGS)
    sign = r.choice(["Your friend", "Love", "Best wishes"])
    return f"Dear {to},\nYou asked me about the {a}. {body}\n{closing}\n{sign}, {frm}"


def doc_wordlist(r):
    """A bulleted list of bare words, one per line."""
    key = r.choice(["home", "food", "size"])
    val = FACTS[r.choice(NAMES)][key]
    members = [n for n in NAMES if FACTS[n][key] == val]
    xs = r.sample(members, min(len(members), r.choice([2, 3, 4, 5])))
    if key == "home":
        head = f"Animals {HOME_IN[val]}"
    elif key == "food":
        head = f"Animals that eat {val}"
    else:
        head = f"Some {val} animals"
    return head + ":\n" + "\n".join("- " + x for x in xs)


DOC_KINDS = [
    (doc_encyclopedia, 0.27),
    (doc_qa, 0.27),
    (doc_story, 0.16),
    (doc_compare, 0.10),
    (doc_list, 0.08),
    (doc_glossary, 0.05),
    (doc_letter, 0.04),
    (doc_wordlist, 0.03),
]


def make_doc(r):
    x = r.random()
    for fn, p in DOC_KINDS:
        if x < p:
            return fn(r)
        x -= p
    return DOC_KINDS[-1][0](r)


def make_docs(seed, n):
    r = random.Random(seed)
    return [make_doc(r) for _ in range(n)]


if __name__ == "__main__":
    for d in make_docs(SEED, 12):
        print(d)
        print("-----")
    print(len(ANIMALS), "animals")
