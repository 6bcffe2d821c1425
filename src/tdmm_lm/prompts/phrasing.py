"""The wording of captions: sentence frames, subjects, synonyms and connectives (a data module).

Every pool maps a key (an intensity level, a head motion, …) to a pair ``(normal, held_out)``
of phrase tuples. Normal phrases are used for every sample; held-out phrases only for the
samples flagged ``held_out_phrasing`` (the ``test_unseen_phrasing`` split), so a model
trained on the other splits has never seen them. No held-out word occurs in any normal
phrase, frame or expression word (``tests/prompts`` checks it).

Phrase templates use three kinds of slot:

* ``<verb>``: a verb in its base form, conjugated when a caption is written ("nods",
  "nod" for *they*, "nodding" after *while*);
* ``{poss}``: the subject's possessive ("her head"); templates holding it are skipped for
  subjects without one ("the face");
* other ``{names}``, filled by :mod:`tdmm_lm.prompts.captions`.

Left and right are always the subject's own left and right.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ACTION_PHRASES",
    "CATEGORY_NOUNS",
    "CONNECTIVES",
    "COUNT_WORDS",
    "DYNAMICS_NP",
    "DYNAMICS_WORDS",
    "EMOTION_NP",
    "EMOTION_VP",
    "HEAD_PHRASES",
    "INTENSITY_ADJECTIVES",
    "INTENSITY_ADVERBS",
    "NEUTRAL_ADVERBS",
    "NEUTRAL_PHRASES",
    "NP_FRAMES",
    "REPEAT_WORDS",
    "SPEAKING_PHRASES",
    "SPEAKING_SUFFIXES",
    "SPEED_WORDS",
    "SUBJECTS",
    "VERB_ADVERBS",
    "VP_FRAMES",
    "Frame",
    "Subject",
]

Pool = dict[str, tuple[tuple[str, ...], tuple[str, ...]]]


@dataclass(frozen=True)
class Subject:
    """Who the caption is about.

    Attributes:
        text: As written ("the woman").
        plural: True when the verb takes the plural form ("they nod").
        poss: Possessive ("her"), or None when "<verb> {poss} head" would not read well.
    """

    text: str
    plural: bool = False
    poss: str | None = "their"


@dataclass(frozen=True)
class Frame:
    """A sentence frame.

    ``{s} {vp}`` frames take a subject and a verb phrase, ``{np}`` frames a noun-phrase
    chain; ``subject`` fixes the subject of frames that carry their own ("A face that …").
    """

    template: str
    subject: Subject | None = None


# (normal, held_out) subjects
SUBJECTS: tuple[tuple[Subject, ...], tuple[Subject, ...]] = (
    (
        Subject("a person"),
        Subject("someone"),
        Subject("he", poss="his"),
        Subject("she", poss="her"),
        Subject("the man", poss="his"),
        Subject("the woman", poss="her"),
        Subject("they", plural=True),
        Subject("a young woman", poss="her"),
        Subject("an older man", poss="his"),
        Subject("the face", poss=None),
    ),
    (
        Subject("the individual"),
        Subject("the performer"),
        Subject("this character"),
    ),
)

VP_FRAMES: tuple[tuple[Frame, ...], tuple[Frame, ...]] = (
    (
        Frame("{s} {vp}."),
        Frame("{s} {vp}."),  # listed twice: the plain frame is the most common way to say it
        Frame("In this clip, {s} {vp}."),
        Frame("Here, {s} {vp}."),
        Frame("A face that {vp}.", Subject("a face that", poss=None)),
    ),
    (
        Frame("{s} {vp}."),  # with a held-out subject
        Frame("On camera, {s} {vp}."),
    ),
)

NP_FRAMES: tuple[tuple[Frame, ...], tuple[Frame, ...]] = (
    (Frame("{np}."), Frame("Close-up of {np}."), Frame("A clip of {np}.")),
    (Frame("Footage of {np}."), Frame("Portrait view: {np}.")),
)

# Before an adjective: "slightly angry", "an extremely angry face".
INTENSITY_ADVERBS: Pool = {
    "subtle": (("slightly", "faintly", "a little"), ("marginally",)),
    "mild": (("mildly", "somewhat", "a bit"), ("modestly",)),
    "moderate": (("moderately", "noticeably", "clearly"), ("reasonably",)),
    "strong": (("very", "strongly", "deeply", "really"), ("markedly",)),
    "extreme": (("extremely", "intensely", "utterly", "overwhelmingly"), ("tremendously",)),
}
# After a verb: "grins slightly", "frowns intensely".
VERB_ADVERBS: Pool = {
    "subtle": (("slightly", "faintly", "a little"), ("marginally",)),
    "mild": (("mildly", "a bit", "somewhat"), ("modestly",)),
    "moderate": (("moderately", "noticeably", "clearly"), ("reasonably",)),
    "strong": (("strongly", "a lot"), ("markedly",)),
    "extreme": (("intensely", "enormously"), ("tremendously",)),
}
# Before a noun: "faint disgust", "a look of intense joy".
INTENSITY_ADJECTIVES: Pool = {
    "subtle": (("subtle", "faint", "slight"), ("understated",)),
    "mild": (("mild", "light"), ("modest",)),
    "moderate": (("moderate", "clear"), ("medium",)),
    "strong": (("strong", "deep", "pronounced"), ("marked",)),
    "extreme": (("extreme", "intense", "overwhelming"), ("overpowering",)),
}
# Neutral words take their own degree words: "completely expressionless", "mostly calm".
NEUTRAL_ADVERBS: Pool = {
    "subtle": (("mostly",), ("largely",)),
    "mild": (("fairly",), ("rather",)),
    "moderate": (("quite",), ("decidedly",)),
    "strong": (("thoroughly",), ("wholly",)),
    "extreme": (("completely", "perfectly"), ("entirely",)),
}

CATEGORY_NOUNS: Pool = {
    "happiness": (("happiness", "joy"), ("gladness",)),
    "sadness": (("sadness", "sorrow"), ("grief",)),
    "anger": (("anger",), ("wrath",)),
    "fear": (("fear",), ("dread",)),
    "surprise": (("surprise", "astonishment"), ("amazement",)),
    "disgust": (("disgust", "revulsion"), ("repugnance",)),
    "contempt": (("contempt", "scorn"), ("disdain",)),
    "embarrassment": (("embarrassment", "shyness"), ("sheepishness",)),
    "pride": (("pride",), ("self-satisfaction",)),
    "boredom": (("boredom",), ("tedium",)),
    "confusion": (("confusion", "puzzlement"), ("bewilderment",)),
    "skepticism": (("skepticism", "doubt"), ("disbelief",)),
    "relief": (("relief",), ("solace",)),
    "awe": (("awe", "wonder"), ("reverence",)),
    "pain": (("pain", "discomfort"), ("anguish",)),
    "fatigue": (("fatigue", "tiredness", "sleepiness"), ("exhaustion",)),
    "concentration": (("concentration", "focus"), ("mental effort",)),
    "amusement": (("amusement",), ("mirth",)),
    "determination": (("determination", "resolve"), ("grit",)),
    "worry": (("worry", "concern"), ("apprehension",)),
    "affection": (("affection", "tenderness"), ("fondness",)),
}

# How an expression comes and goes. fast/slow: its onset; brief: a short middle segment;
# sustained: one expression over the whole clip; longest: the expression that lasts longest
# in a clip of several (the primary one, which the labels describe).
DYNAMICS_WORDS: Pool = {
    "fast": (("suddenly", "abruptly", "all of a sudden"), ("in an instant",)),
    "slow": (("gradually", "little by little", "steadily"), ("progressively",)),
    "brief": (("briefly", "for a moment"), ("fleetingly",)),
    "sustained": (("throughout", "the whole time"), ("all along",)),
    "longest": (("for most of the clip", "for the longest stretch"), ("for the better part",)),
}

CONNECTIVES: Pool = {
    "then": ((", then", ", and then", ", after that"), (", afterwards", ", subsequently")),
    "finally": ((", and finally", ", and at the end"), (", and ultimately", ", and lastly")),
}

# Neutral lead-in and return segments, as verb phrases (vp) and noun phrases (np).
NEUTRAL_PHRASES: Pool = {
    "start_vp": (
        ("<start> neutral", "<begin> with a neutral face", "<start> out with a neutral expression"),
        ("<start> with a resting face",),
    ),
    "start_np": (("a neutral face", "a neutral expression"), ("a resting face",)),
    "return_vp": (
        ("<relax> back to neutral", "<return> to a neutral face", "<settle> into a neutral look"),
        ("<relax> into a resting face",),
    ),
    "return_np": (("a return to neutral", "a neutral face again"), ("a resting face again",)),
}

# Head motions as verb phrases; count and speed words are added around them.
HEAD_PHRASES: Pool = {
    "still": (
        ("<keep> {poss} head still", "<hold> {poss} head still", "<keep> still"),
        ("<keep> {poss} head motionless",),
    ),
    "nod": (("<nod>", "<nod> {poss} head"), ("<incline> {poss} head",)),
    "shake": (
        ("<shake> {poss} head", "<shake> {poss} head from side to side", "<shake> side to side"),
        ("<wag> {poss} head from side to side",),
    ),
    "tilt_left": (
        ("<tilt> {poss} head to the left", "<tilt> to the left", "<lean> {poss} head to the left"),
        ("<cock> {poss} head to the left",),
    ),
    "tilt_right": (
        (
            "<tilt> {poss} head to the right",
            "<tilt> to the right",
            "<lean> {poss} head to the right",
        ),
        ("<cock> {poss} head to the right",),
    ),
    "turn_left": (
        ("<turn> {poss} head to the left", "<turn> to the left"),
        ("<swivel> {poss} head to the left",),
    ),
    "turn_right": (
        ("<turn> {poss} head to the right", "<turn> to the right"),
        ("<swivel> {poss} head to the right",),
    ),
    "look_up": (
        ("<look> up", "<tip> {poss} head back", "<raise> {poss} head", "<lift> {poss} chin"),
        ("<lift> {poss} face skyward",),
    ),
    "look_down": (
        ("<look> down", "<lower> {poss} head", "<drop> {poss} chin"),
        ("<bow> {poss} head",),
    ),
    "sway": (
        ("<sway> {poss} head from side to side", "<sway> from side to side", "<sway>"),
        ("<weave> {poss} head from side to side",),
    ),
    "bob": (
        ("<bob> {poss} head", "<bob> up and down", "<bob> {poss} head up and down"),
        ("<bounce> {poss} head lightly",),
    ),
}

COUNT_WORDS: Pool = {
    "1": (("once",), ("a single time",)),
    "2": (("twice",), ("two times",)),
    "3": (("three times",), ("thrice",)),
}
# Oscillating motion with no count: it goes on for the whole segment.
REPEAT_WORDS: tuple[tuple[str, ...], tuple[str, ...]] = (
    ("repeatedly", "continuously", "again and again"),
    ("over and over",),
)
SPEED_WORDS: Pool = {
    "slow": (("slowly",), ("unhurriedly",)),
    "fast": (("quickly", "rapidly"), ("briskly",)),
}

# Speaking styles as participle phrases ("..., whispering throughout"), and the frames that
# append them to a caption (a silent clip takes its phrase as it is).
SPEAKING_SUFFIXES: tuple[tuple[str, ...], tuple[str, ...]] = (
    ("{spk} throughout", "all while {spk}", "{spk} the whole time"),
    ("{spk} from start to finish",),
)
SPEAKING_PHRASES: Pool = {
    "silent": (("without speaking", "saying nothing", "in silence"), ("wordlessly",)),
    "speaking": (("speaking", "talking"), ("chatting",)),
    "whispering": (("whispering", "speaking in a whisper"), ("murmuring",)),
    "shouting": (("shouting", "yelling"), ("hollering",)),
    "laughing": (("laughing", "laughing out loud"), ("chuckling",)),
}

ACTION_PHRASES: Pool = {
    "blink": (("<blink>", "<blink> {poss} eyes"), ("<bat> {poss} eyelids",)),
    "wink_left": (
        ("<wink> the left eye", "<wink> with {poss} left eye"),
        ("<give> a left-eyed wink",),
    ),
    "wink_right": (
        ("<wink> the right eye", "<wink> with {poss} right eye"),
        ("<give> a right-eyed wink",),
    ),
    "eye_roll": (("<roll> {poss} eyes", "<roll> the eyes"), ("<do> an eye roll",)),
    "squint": (("<squint>", "<narrow> {poss} eyes"), ("<peer> through narrowed eyes",)),
    "pout": (("<pout>", "<push> {poss} lips out"), ("<purse> {poss} lips",)),
    "lip_bite": (("<bite> {poss} lower lip", "<bite> the lower lip"), ("<nibble> {poss} lip",)),
    "lip_press": (
        ("<press> {poss} lips together", "<tighten> the lips"),
        ("<compress> {poss} lips",),
    ),
    "cheek_puff": (("<puff> out {poss} cheeks", "<puff> the cheeks"), ("<inflate> {poss} cheeks",)),
    "tongue_out": (
        ("<stick> {poss} tongue out", "<poke> the tongue out"),
        ("<extend> {poss} tongue",),
    ),
    "brow_raise": (("<raise> {poss} eyebrows", "<lift> the brows"), ("<arch> {poss} brows",)),
    "brow_furrow": (("<furrow> {poss} brow", "<knit> the brows"), ("<crease> {poss} brow",)),
    "nose_wrinkle": (("<wrinkle> {poss} nose", "<scrunch> the nose"), ("<crinkle> {poss} nose",)),
    "yawn": (("<yawn>", "<let> out a yawn"), ("<give> a wide yawn",)),
    "gaze_left": (
        ("<glance> to the left", "<shift> {poss} gaze to the left"),
        ("<dart> {poss} eyes leftward",),
    ),
    "gaze_right": (
        ("<glance> to the right", "<shift> {poss} gaze to the right"),
        ("<dart> {poss} eyes rightward",),
    ),
    "gaze_up": (("<glance> up", "<raise> {poss} gaze"), ("<turn> {poss} eyes upward",)),
    "gaze_down": (
        ("<glance> down", "<lower> {poss} gaze", "<cast> {poss} eyes down"),
        ("<turn> {poss} eyes downward",),
    ),
}

# Expression phrasing by word kind and dynamics ("adj": an adjective word, "verb": a
# participle such as "grinning", "noun": the category noun). {a_adv} is an article + adverb.
EMOTION_VP: dict[tuple[str, str], tuple[str, ...]] = {
    ("adj", ""): ("<be> {adv} {w}", "<look> {adv} {w}", "<wear> {a_adv} {w} expression"),
    ("adj", "fast"): (
        "{dyn} <become> {adv} {w}",
        "{dyn} <turn> {adv} {w}",
        "{dyn} <look> {adv} {w}",
    ),
    ("adj", "slow"): ("{dyn} <become> {adv} {w}", "{dyn} <grow> {adv} {w}"),
    ("adj", "brief"): ("<look> {adv} {w} {dyn}", "<be> {adv} {w} {dyn}"),
    ("adj", "sustained"): (
        "<stay> {adv} {w} {dyn}",
        "<keep> {a_adv} {w} expression {dyn}",
        "<look> {adv} {w} {dyn}",
    ),
    ("adj", "longest"): ("<look> {adv} {w} {dyn}", "<stay> {adv} {w} {dyn}"),
    ("verb", ""): ("<{v}> {padv}", "<be> {w} {padv}"),
    ("verb", "fast"): ("{dyn} <{v}> {padv}", "{dyn} <start> {w} {padv}"),
    ("verb", "slow"): ("{dyn} <{v}> {padv}", "{dyn} <start> {w} {padv}"),
    ("verb", "brief"): ("<{v}> {padv} {dyn}",),
    ("verb", "sustained"): ("<keep> {w} {padv} {dyn}", "<{v}> {padv} {dyn}"),
    ("verb", "longest"): ("<{v}> {padv} {dyn}", "<keep> {w} {padv} {dyn}"),
    ("noun", ""): ("<show> {iadj} {noun}", "<wear> a look of {iadj} {noun}"),
    ("noun", "fast"): ("{dyn} <show> {iadj} {noun}",),
    ("noun", "slow"): ("{dyn} <show> {iadj} {noun}",),
    ("noun", "brief"): ("<show> {iadj} {noun} {dyn}",),
    ("noun", "sustained"): ("<show> {iadj} {noun} {dyn}",),
    ("noun", "longest"): ("<show> {iadj} {noun} {dyn}",),
}
EMOTION_NP: dict[str, tuple[str, ...]] = {
    "adj": ("{a_adv} {w} face", "{a_adv} {w} expression", "{a_adv} {w} look"),
    "verb": ("a face {w} {padv}",),
    "noun": ("{iadj} {noun}", "a look of {iadj} {noun}"),
}
DYNAMICS_NP: dict[str, str] = {
    "fast": ", appearing {dyn}",
    "slow": ", building {dyn}",
    "brief": ", held {dyn}",
    "sustained": ", held {dyn}",
    "longest": ", held {dyn}",
}
