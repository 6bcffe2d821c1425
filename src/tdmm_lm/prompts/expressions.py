"""The emotion and expression vocabulary: one FACS-informed recipe per word (a data module).

Each row of :data:`_TABLE` is ``word | channel weight channel weight … [| overrides]``. A
channel written without a side (``mouthSmile``) drives both the ``…Left`` and ``…Right``
blendshapes with the same weight; a sided name (``mouthSmileLeft``) drives one side only,
which is how asymmetric expressions (smirk, raised single brow) are written. Weights are the
apex at full (``extreme``) intensity, in [0, 1].

Two rotation channels may appear as small posture offsets in radians: ``headRoll`` (a tilt,
+ toward the subject's left shoulder) and ``headYaw`` (a turn, + toward the subject's left).
They stay within :data:`MAX_POSTURE_RAD`. Head pitch is carried by
:attr:`ExpressionRecipe.head_pitch_deg` (degrees, + looks down) and habitual gaze by
:attr:`ExpressionRecipe.gaze`, as the schema defines.

Every word of a category carries its category's signature (:data:`CATEGORY_SIGNATURES`: the
action units that define the emotion in FACS-style descriptions), so the category, which the
evaluators classify, shows in the motion. Words within a category may be alike but differ in
their channel mixes and weights, not only in name; words of different categories point in
clearly different directions (``tests/prompts/test_expressions.py`` checks both).
"""

from __future__ import annotations

from tdmm_lm.prompts.schema import ExpressionRecipe

__all__ = [
    "CATEGORY_DYNAMICS",
    "CATEGORY_SIGNATURES",
    "EXPRESSIONS",
    "MAX_POSTURE_RAD",
    "VERB_FORMS",
]

#: Largest head roll/yaw posture offset a recipe may carry, in radians (about 11°).
MAX_POSTURE_RAD = 0.2

#: Channels written without a side expand to both sides.
_BILATERAL = (
    "eyeBlink", "eyeLookDown", "eyeLookIn", "eyeLookOut", "eyeLookUp", "eyeSquint", "eyeWide",
    "mouthSmile", "mouthFrown", "mouthDimple", "mouthStretch", "mouthPress", "mouthLowerDown",
    "mouthUpperUp", "browDown", "browOuterUp", "cheekSquint", "noseSneer",
)  # fmt: skip

#: Per-category default (onset_s, offset_s): surprise is fast, sadness and fatigue are slow.
CATEGORY_DYNAMICS: dict[str, tuple[float, float]] = {
    "neutral": (0.8, 0.8),
    "happiness": (0.45, 0.7),
    "sadness": (0.9, 1.2),
    "anger": (0.35, 0.8),
    "fear": (0.25, 0.9),
    "surprise": (0.15, 0.9),
    "disgust": (0.35, 0.7),
    "contempt": (0.5, 0.7),
    "embarrassment": (0.6, 0.8),
    "pride": (0.7, 0.9),
    "boredom": (1.1, 1.0),
    "confusion": (0.5, 0.7),
    "skepticism": (0.5, 0.7),
    "relief": (0.7, 1.0),
    "awe": (0.6, 1.0),
    "pain": (0.2, 0.9),
    "fatigue": (1.2, 1.1),
    "concentration": (0.7, 0.8),
    "amusement": (0.4, 0.7),
    "determination": (0.5, 0.8),
    "worry": (0.6, 0.9),
    "affection": (0.7, 0.9),
}

#: Channels every word of a category drives (a stem covers both sides; "a|b": either). The
#: signature is what tells a category from its neighbours: lowered lids tell affection from
#: happiness, jawForward determination from concentration, an O-mouth surprise from fear.
CATEGORY_SIGNATURES: dict[str, tuple[str, ...]] = {
    # Lips sealed over a slightly dropped jaw: the resting mouth.
    "neutral": ("jawOpen", "mouthClose"),
    # Duchenne smile: AU6 + AU12, teeth shown (AU10), jaw closed.
    "happiness": ("mouthSmile", "cheekSquint", "eyeSquint", "mouthUpperUp"),
    # AU1 + AU15 + AU17; heavy lids, head and gaze down.
    "sadness": ("browInnerUp", "mouthFrown", "mouthShrugLower"),
    # AU4 + AU5 glare, lips pressed (AU24) or bared.
    "anger": ("browDown", "eyeWide"),
    # AU1 + AU2 + AU4 + AU5 + AU20: the lips stretch sideways.
    "fear": ("browInnerUp", "browOuterUp", "browDown", "eyeWide", "mouthStretch"),
    # AU1 + AU2 + AU5 + AU26/27 with rounded lips, no lid or mouth tension.
    "surprise": ("browInnerUp", "browOuterUp", "eyeWide", "jawOpen", "mouthFunnel"),
    # AU9 + AU10.
    "disgust": ("noseSneer", "mouthUpperUp"),
    # Unilateral AU14, lids lowered, chin up.
    "contempt": ("mouthDimple",),
    # Lips rolled in to hold back a smile (AU28), gaze and head down.
    "embarrassment": ("mouthRollLower", "eyeLookDown"),
    # Small compressed smile (AU12 + AU24) with the chin pushed up (AU17), head back.
    "pride": ("mouthSmile", "mouthPress", "mouthShrugLower"),
    # Half-lowered lids, lips pushed up and aside.
    "boredom": ("eyeBlink", "mouthShrugUpper", "mouthShrugLower"),
    # Knitted brows (AU1 + AU4), mouth pulled to one side, head tilted.
    "confusion": ("browInnerUp", "browDown", "mouthLeft|mouthRight"),
    # One brow raised, the other lowered, lips pressed.
    "skepticism": ("browOuterUp", "browDown", "mouthPress"),
    # The sigh: rounded lips blowing the breath out (AU22 + puffed cheeks).
    "relief": ("mouthFunnel", "cheekPuff"),
    # Raised inner brows and an upward gaze, lips parted, slight smile, slow.
    "awe": ("browInnerUp", "eyeLookUp"),
    # AU4 + AU6 + AU7 + AU9 + AU20 + AU43: the eyes squeeze shut.
    "pain": ("browDown", "eyeSquint", "eyeBlink", "cheekSquint", "noseSneer", "mouthStretch"),
    # Drooping lids held up by the brows, slack jaw, head dropping.
    "fatigue": ("eyeBlink", "browOuterUp", "jawOpen"),
    # AU4 + AU7; most words converge the eyes on a near task (eyeLookIn) or purse the lips.
    "concentration": ("browDown", "eyeSquint"),
    # Laughter: smile with a dropped jaw and crinkled eyes, head back.
    "amusement": ("mouthSmile", "eyeSquint", "jawOpen"),
    # Pressed lips, lowered brows, jaw thrust forward, chin raised.
    "determination": ("browDown", "mouthPress", "jawForward", "mouthShrugLower"),
    # Raised and knitted inner brows (AU1 + AU4) over a tense mouth (AU20 + AU24).
    "worry": ("browInnerUp", "browDown", "mouthStretch", "mouthPress"),
    # Soft smile, relaxed lowered lids, raised inner brows, head tilted.
    "affection": ("mouthSmile", "eyeBlink", "browInnerUp", "headRoll"),
}

#: Words that are participles of a verb; captions conjugate the verb ("she grins broadly").
VERB_FORMS: dict[str, str] = {
    "smiling": "smile", "grinning": "grin", "beaming": "beam", "crying": "cry",
    "frowning": "frown", "scowling": "scowl", "glaring": "glare", "sneering": "sneer",
    "smirking": "smirk", "blushing": "blush", "sighing": "sigh", "marveling": "marvel",
    "wincing": "wince", "grimacing": "grimace", "concentrating": "concentrate",
}  # fmt: skip

# One section per category; each row is "word | channels [| overrides]", where overrides are
# onset=<s> offset=<s> pitch=<deg, + looks down> gaze=<down|up|aside>. Indented lines continue
# the row above.
_TABLE = """
[neutral]
neutral        |
calm           | eyeBlink .08 jawOpen .06 mouthClose .07
expressionless | jawOpen .05 mouthClose .05 mouthPress .04 eyeWide .03
blank          | eyeWide .1 jawOpen .08 mouthClose .04
impassive      | mouthPress .1 browDown .05 jawOpen .06 mouthClose .06
relaxed        | eyeBlink .08 jawOpen .07 mouthClose .08 mouthSmile .04
serene         | eyeBlink .1 mouthSmile .05 browInnerUp .03 jawOpen .07 mouthClose .08
stoic          | mouthPress .1 browDown .05 jawOpen .07 mouthClose .08
composed       | mouthPress .08 eyeSquint .04 jawOpen .05 mouthClose .05 | pitch=-2
deadpan        | mouthPress .12 eyeBlink .15 jawOpen .06 mouthClose .06
[happiness]
happy          | mouthSmile .7 cheekSquint .5 eyeSquint .25 mouthUpperUp .3
smiling        | mouthSmile .6 cheekSquint .4 eyeSquint .2 mouthUpperUp .2
grinning       | mouthSmile .9 cheekSquint .6 mouthUpperUp .6 mouthLowerDown .3 eyeSquint .25
beaming        | mouthSmile 1 cheekSquint .8 eyeSquint .45 mouthUpperUp .45 browOuterUp .2
delighted      | mouthSmile .85 cheekSquint .6 eyeSquint .35 mouthUpperUp .45 browOuterUp .3 |
                 onset=0.3
joyful         | mouthSmile .9 cheekSquint .7 eyeSquint .45 mouthUpperUp .5 browOuterUp .2
cheerful       | mouthSmile .65 cheekSquint .45 mouthUpperUp .3 browOuterUp .25 eyeSquint .15
elated         | mouthSmile 1 cheekSquint .75 mouthUpperUp .5 browOuterUp .4 eyeWide .15
                 eyeSquint .2 | pitch=-4
content        | mouthSmile .4 cheekSquint .35 eyeSquint .2 mouthUpperUp .1 | onset=0.8
ecstatic       | mouthSmile 1 cheekSquint .9 eyeSquint .6 mouthUpperUp .65 browOuterUp .45 |
                 pitch=-6 onset=0.3
[sadness]
sad            | browInnerUp .6 mouthFrown .5 mouthShrugLower .35 eyeBlink .15 | pitch=5
                 gaze=down
sorrowful      | browInnerUp .8 browDown .15 mouthFrown .6 mouthShrugLower .45 eyeBlink .25 |
                 pitch=8 gaze=down onset=1
gloomy         | browInnerUp .4 browDown .2 mouthFrown .5 mouthShrugLower .3 eyeBlink .3 |
                 pitch=6 gaze=down
melancholy     | browInnerUp .5 mouthFrown .35 mouthShrugLower .25 eyeBlink .35 | pitch=5
                 gaze=down onset=1.2
heartbroken    | browInnerUp 1 mouthFrown .8 mouthShrugLower .6 mouthStretch .2 eyeSquint .25 |
                 pitch=10 gaze=down
tearful        | browInnerUp .85 eyeSquint .35 cheekSquint .15 mouthFrown .6 mouthShrugLower .55
downcast       | browInnerUp .4 mouthFrown .4 mouthShrugLower .25 eyeBlink .2 eyeLookDown .6 |
                 pitch=12
dejected       | browInnerUp .55 mouthFrown .5 mouthShrugLower .3 eyeBlink .3 jawOpen .05 |
                 pitch=10 gaze=down
crying         | browInnerUp 1 eyeSquint .55 cheekSquint .35 mouthFrown .7 mouthStretch .45
                 jawOpen .3 mouthLowerDown .25 mouthShrugLower .2 | onset=0.6
miserable      | browInnerUp .7 browDown .25 mouthFrown .75 mouthShrugLower .5 eyeSquint .2 |
                 pitch=6
[anger]
angry          | browDown .8 eyeWide .45 eyeSquint .15 mouthPress .45 noseSneer .25
annoyed        | browDown .45 eyeWide .3 mouthPress .4 eyeSquint .15 noseSneer .15 | onset=0.4
irritated      | browDown .5 eyeWide .25 noseSneer .25 mouthPress .35 eyeSquint .2
furious        | browDown 1 eyeWide .6 noseSneer .55 mouthUpperUp .45 mouthStretch .25 jawOpen
                 .3 | onset=0.25
enraged        | browDown 1 eyeWide .5 eyeSquint .3 noseSneer .6 mouthUpperUp .6 jawOpen .4
                 mouthStretch .3 | onset=0.25
frowning       | browDown .75 eyeWide .2 eyeSquint .15 mouthFrown .35 mouthPress .25
scowling       | browDown .9 eyeWide .4 eyeSquint .25 noseSneer .3 mouthPress .35 mouthFrown .2
glaring        | browDown .75 eyeWide .5 mouthPress .4 eyeLookUp .2 | pitch=4
livid          | browDown .95 eyeWide .6 mouthPress .65 noseSneer .35 mouthRollLower .15
indignant      | browDown .6 browInnerUp .15 eyeWide .4 mouthPress .35 noseSneer .15 | pitch=-4
[fear]
afraid         | browInnerUp .7 browOuterUp .3 browDown .3 eyeWide .7 mouthStretch .55 jawOpen
                 .15
scared         | browInnerUp .8 browOuterUp .35 browDown .3 eyeWide .8 mouthStretch .65 jawOpen
                 .2 | pitch=-3
frightened     | browInnerUp .85 browOuterUp .4 browDown .35 eyeWide .9 mouthStretch .8 jawOpen
                 .25 mouthLowerDown .3
terrified      | browInnerUp 1 browOuterUp .5 browDown .35 eyeWide 1 mouthStretch .9 jawOpen .4
                 mouthLowerDown .4 | onset=0.2 pitch=-5
anxious        | browInnerUp .6 browOuterUp .35 browDown .2 eyeWide .5 mouthStretch .45 jawOpen
                 .15 | onset=0.5
nervous        | browInnerUp .5 browOuterUp .25 browDown .15 eyeWide .4 mouthStretch .4 |
                 onset=0.5 gaze=aside
panicked       | browInnerUp .95 browOuterUp .45 browDown .35 eyeWide .95 mouthStretch .85
                 jawOpen .45 | onset=0.15
alarmed        | browInnerUp .6 browOuterUp .4 browDown .3 eyeWide .85 mouthStretch .65 jawOpen
                 .1 | onset=0.2
horrified      | browInnerUp .9 browOuterUp .35 browDown .35 eyeWide .9 noseSneer .2
                 mouthStretch .75 jawOpen .45 mouthUpperUp .2
uneasy         | browInnerUp .4 browOuterUp .25 browDown .15 eyeWide .35 mouthStretch .35
                 jawOpen .05 | onset=0.6 gaze=aside
[surprise]
surprised      | browInnerUp .7 browOuterUp .8 eyeWide .6 jawOpen .55 mouthFunnel .35
astonished     | browInnerUp .85 browOuterUp .95 eyeWide .8 jawOpen .7 mouthFunnel .4
amazed         | browInnerUp .75 browOuterUp .85 eyeWide .65 jawOpen .65 mouthFunnel .35 |
                 onset=0.2
startled       | browInnerUp .55 browOuterUp .7 eyeWide .85 jawOpen .45 mouthFunnel .3 |
                 onset=0.08 pitch=-5
stunned        | browInnerUp .6 browOuterUp .7 eyeWide .7 jawOpen .7 mouthFunnel .3 | offset=1.2
astounded      | browInnerUp .9 browOuterUp 1 eyeWide .8 jawOpen .8 mouthFunnel .4 | onset=0.2
shocked        | browInnerUp .8 browOuterUp .8 eyeWide .9 jawOpen .75 mouthFunnel .3 | onset=0.1
                 pitch=-4
dumbfounded    | browInnerUp .6 browOuterUp .55 eyeWide .55 jawOpen .85 mouthFunnel .25 eyeBlink
                 .1 | onset=0.3
flabbergasted  | browOuterUp 1 browInnerUp .8 eyeWide .85 jawOpen .9 mouthFunnel .45
wide-eyed      | eyeWide 1 browOuterUp .65 browInnerUp .5 jawOpen .4 mouthFunnel .3
[disgust]
disgusted      | noseSneer .8 mouthUpperUp .7 browDown .35 mouthFrown .25 mouthShrugLower .2 |
                 pitch=-3
revolted       | noseSneer 1 mouthUpperUp .9 browDown .45 eyeSquint .3 mouthShrugLower .3
                 jawOpen .1 | pitch=-5
repulsed       | noseSneer .9 mouthUpperUp .7 browDown .35 mouthFrown .35 eyeSquint .25 headYaw
                 .12 | pitch=-6
nauseated      | noseSneer .6 mouthUpperUp .45 mouthFrown .45 mouthShrugLower .25 browInnerUp .3
                 cheekPuff .2 | onset=0.6
sickened       | noseSneer .7 mouthUpperUp .45 browInnerUp .3 browDown .25 mouthFrown .5
                 mouthShrugLower .3
appalled       | noseSneer .6 mouthUpperUp .55 eyeWide .2 browDown .2 browInnerUp .3 jawOpen .2
                 mouthFrown .2 | onset=0.25
squeamish      | noseSneer .55 mouthUpperUp .4 mouthStretch .3 eyeSquint .3 browInnerUp .35
sneering       | noseSneerLeft .85 noseSneerRight .35 mouthUpperUpLeft .85 mouthUpperUpRight .3
                 browDown .3
queasy         | noseSneer .4 mouthUpperUp .3 mouthFrown .35 mouthPress .3 cheekPuff .3
                 browInnerUp .3 | onset=0.8
offended       | noseSneer .45 mouthUpperUp .45 browDown .3 mouthPress .2 mouthFrown .2 |
                 pitch=-5
[contempt]
contemptuous   | mouthDimpleLeft .6 mouthSmileLeft .4 eyeBlink .2 browDown .1 | pitch=-5
smirking       | mouthSmileLeft .5 mouthDimpleLeft .5 cheekSquintLeft .2 eyeBlink .1 | pitch=-3
scornful       | mouthDimpleLeft .7 mouthSmileLeft .25 noseSneerLeft .2 eyeBlink .2 | pitch=-6
disdainful     | mouthDimpleRight .6 mouthSmileRight .3 eyeBlink .3 | pitch=-8
condescending  | mouthDimpleRight .5 mouthSmileRight .4 browOuterUp .2 eyeBlink .2 | pitch=-6
haughty        | mouthDimpleLeft .45 mouthPressLeft .3 eyeBlink .3 browOuterUp .15 | pitch=-10
mocking        | mouthSmileLeft .6 mouthDimpleLeft .45 mouthSmileRight .15 browOuterUpLeft .35
                 cheekSquintLeft .25
dismissive     | mouthDimpleRight .55 mouthPressRight .3 eyeBlink .25 browOuterUp .15 |
                 gaze=aside
sardonic       | mouthDimpleRight .5 mouthSmileRight .4 browDownRight .25 browOuterUpLeft .3
superior       | mouthDimpleLeft .4 mouthPressLeft .25 eyeBlink .25 | pitch=-8
[embarrassment]
embarrassed    | mouthSmile .35 mouthRollLower .35 mouthRollUpper .2 browInnerUp .3 eyeLookDown
                 .5 headYaw .1 | pitch=8
sheepish       | mouthSmile .4 mouthRollLower .3 mouthDimple .15 browInnerUp .35 eyeLookDown .4
                 | pitch=6
bashful        | mouthSmile .35 mouthRollLower .3 cheekSquint .2 eyeLookDown .45 headRoll .08 |
                 pitch=10
shy            | mouthSmile .25 mouthRollLower .3 mouthRollUpper .15 eyeLookDown .5 headYaw .12
                 | pitch=8
awkward        | mouthStretch .3 mouthSmile .2 mouthRollLower .3 browInnerUp .35 eyeLookDown .3
                 | gaze=aside
blushing       | mouthSmile .4 cheekSquint .15 mouthRollLower .35 eyeLookDown .5 | pitch=7
flustered      | browInnerUp .45 eyeWide .15 mouthSmile .3 mouthRollLower .35 mouthStretch .2
                 eyeLookDown .3 | gaze=aside onset=0.35
mortified      | browInnerUp .6 mouthRollLower .45 mouthRollUpper .3 mouthStretch .35 eyeSquint
                 .25 eyeLookDown .55 | pitch=12
self-conscious | mouthRollLower .3 mouthPress .2 mouthSmile .15 browInnerUp .3 eyeLookDown .4 |
                 pitch=5
ashamed        | browInnerUp .5 mouthRollLower .35 mouthFrown .2 eyeLookDown .6 | pitch=14
                 onset=0.9
[pride]
boastful       | mouthSmileLeft .6 mouthSmileRight .4 mouthShrugLower .4 mouthPress .3
                 browOuterUp .25 | pitch=-9
proud          | mouthSmile .4 mouthPress .3 mouthShrugLower .4 cheekSquint .1 | pitch=-8
confident      | mouthSmile .35 mouthPress .3 mouthShrugLower .35 browOuterUp .1 | pitch=-5
smug           | mouthSmileLeft .5 mouthSmileRight .3 mouthPress .3 mouthShrugLower .35 eyeBlink
                 .2 | pitch=-6
triumphant     | mouthSmile .6 mouthPress .35 mouthShrugLower .45 cheekSquint .2 browOuterUp .3
                 | pitch=-12 onset=0.4
self-assured   | mouthSmile .3 mouthPress .3 mouthShrugLower .3 eyeSquint .15 | pitch=-7
dignified      | mouthPress .25 mouthShrugLower .25 mouthSmile .12 browOuterUp .08 | pitch=-6
victorious     | mouthSmile .6 mouthPress .35 mouthShrugLower .45 cheekSquint .2 eyeSquint .15
                 browDown .2 | pitch=-10 onset=0.35
accomplished   | mouthSmile .45 mouthPress .3 mouthShrugLower .35 cheekSquint .15 | pitch=-5
satisfied      | mouthSmile .4 mouthPress .3 mouthShrugLower .25 eyeBlink .15 | pitch=-3
[boredom]
unenthusiastic | eyeBlink .35 mouthShrugLower .35 mouthShrugUpper .2 mouthFrown .1 mouthLeft .15
                 | pitch=4 gaze=down
bored          | eyeBlink .4 mouthShrugUpper .3 mouthShrugLower .25 mouthRight .25 jawOpen .05 |
                 pitch=3 gaze=aside
uninterested   | eyeBlink .35 mouthShrugLower .3 mouthShrugUpper .15 mouthLeft .2 headYaw .1 |
                 gaze=aside
indifferent    | eyeBlink .25 mouthShrugLower .35 mouthShrugUpper .25 browOuterUp .1 mouthRight
                 .1
apathetic      | eyeBlink .45 mouthShrugLower .25 mouthShrugUpper .2 mouthLeft .15 jawOpen .05 |
                 pitch=5
listless       | eyeBlink .45 mouthShrugUpper .25 mouthShrugLower .2 mouthRight .2 | pitch=8
                 gaze=down
disengaged     | eyeBlink .3 mouthShrugLower .25 mouthShrugUpper .15 mouthLeft .2 eyeLookOutLeft
                 .3 eyeLookInRight .3
unimpressed    | eyeBlink .3 mouthShrugLower .4 mouthShrugUpper .3 mouthPress .2 browOuterUp .15
jaded          | eyeBlink .35 mouthShrugLower .3 mouthShrugUpper .2 mouthRight .15
                 mouthDimpleLeft .1
vacant         | eyeBlink .2 jawOpen .15 mouthShrugUpper .15 mouthShrugLower .1 mouthLeft .1
[confusion]
confused       | browDown .45 browInnerUp .45 mouthLeft .3 jawOpen .1 eyeSquint .15 headRoll .1
puzzled        | browDown .4 browInnerUp .4 eyeSquint .2 mouthRight .3 mouthPucker .15 headRoll
                 .12
perplexed      | browDown .5 browInnerUp .5 eyeSquint .25 mouthLeft .25 mouthPress .15 headRoll
                 .08
baffled        | browInnerUp .55 browDown .35 browOuterUpLeft .3 jawOpen .2 mouthRight .25
                 headRoll .1
bewildered     | browInnerUp .6 browDown .3 browOuterUp .25 eyeWide .25 jawOpen .25 mouthLeft .2
                 headRoll .06 | onset=0.35
uncertain      | browInnerUp .4 browDown .25 mouthRight .35 mouthPress .1 mouthPucker .1
                 headRoll .05 | gaze=aside
disoriented    | browInnerUp .45 browDown .2 eyeWide .2 jawOpen .15 mouthLeft .2 headRoll .04 |
                 gaze=aside
mystified      | browInnerUp .45 browDown .35 browOuterUpRight .3 eyeSquintLeft .25 mouthRight
                 .25 mouthPucker .1 headRoll -.1
quizzical      | browInnerUp .35 browDown .3 browOuterUpLeft .4 mouthRight .3 mouthSmileRight .1
                 headRoll .12
befuddled      | browDown .35 browInnerUp .45 eyeBlink .15 jawOpen .15 mouthLeft .25 headRoll
                 .09
[skepticism]
skeptical      | browOuterUpLeft .7 browDownRight .4 eyeSquintRight .35 mouthPress .35
                 mouthRight .2
doubtful       | browOuterUpRight .5 browDownLeft .3 mouthPress .35 mouthLeft .2 eyeSquintLeft
                 .15
suspicious     | eyeSquint .45 browDownLeft .45 browOuterUpRight .25 mouthPress .3 mouthLeft .15
                 headYaw .08 | gaze=aside
distrustful    | eyeSquint .5 browDownRight .5 browOuterUpLeft .3 mouthPress .35 mouthRight .15
                 | pitch=3 gaze=aside
incredulous    | browOuterUpLeft .8 browInnerUp .3 browDownRight .2 eyeWideLeft .3 jawOpen .15
                 mouthSmileRight .1 mouthPress .1 | onset=0.3
wary           | eyeSquint .35 browDownLeft .35 browOuterUpRight .2 mouthPress .3 mouthRight .15
                 | pitch=4 gaze=aside
unconvinced    | browOuterUpRight .55 browDownLeft .25 mouthPressLeft .4 mouthLeft .25
                 eyeSquintLeft .2
dubious        | browDownLeft .4 browOuterUpRight .5 eyeSquintLeft .35 mouthRight .25 mouthPress
                 .2
cynical        | browDownLeft .4 browOuterUpRight .3 eyeSquint .3 mouthPressRight .3 mouthRight
                 .2
questioning    | browOuterUpRight .6 browInnerUp .3 browDownLeft .2 mouthPress .2 mouthLeft .15
                 headRoll -.08
[relief]
relieved       | mouthFunnel .45 cheekPuff .3 browInnerUp .25 mouthSmile .3 eyeBlink .15 |
                 pitch=-3 onset=0.6
reassured      | mouthSmile .4 mouthFunnel .3 cheekPuff .2 browInnerUp .2
soothed        | eyeBlink .3 mouthSmile .25 mouthFunnel .3 cheekPuff .15 | onset=1
unburdened     | mouthFunnel .4 cheekPuff .35 browInnerUp .25 mouthSmile .3 jawOpen .1 |
                 pitch=-5
comforted      | mouthSmile .35 mouthFunnel .3 cheekPuff .2 eyeBlink .15 browInnerUp .1
consoled       | browInnerUp .25 mouthSmile .25 mouthFunnel .3 cheekPuff .15 eyeBlink .15 |
                 pitch=3
thankful       | mouthSmile .45 browInnerUp .25 mouthFunnel .3 cheekPuff .2 cheekSquint .15 |
                 pitch=3
grateful       | mouthSmile .4 browInnerUp .3 mouthFunnel .3 cheekPuff .2 cheekSquint .15 |
                 pitch=4
refreshed      | mouthSmile .3 eyeWide .15 browOuterUp .15 mouthFunnel .35 cheekPuff .2 |
                 pitch=-4
sighing        | mouthFunnel .5 cheekPuff .25 jawOpen .15 eyeBlink .3 browInnerUp .25 | pitch=4
[awe]
awed           | browInnerUp .65 browOuterUp .2 eyeWide .25 jawOpen .3 mouthLowerDown .2
                 mouthSmile .2 eyeLookUp .55 | pitch=-6
awestruck      | browInnerUp .8 browOuterUp .3 eyeWide .35 jawOpen .4 mouthLowerDown .25
                 mouthSmile .15 eyeLookUp .6 | pitch=-10
enchanted      | browInnerUp .5 browOuterUp .15 eyeWide .2 mouthSmile .45 jawOpen .15 eyeLookUp
                 .4
captivated     | browInnerUp .45 eyeWide .3 jawOpen .2 mouthLowerDown .15 mouthSmile .2
                 eyeLookUp .45
mesmerized     | eyeWide .35 browInnerUp .35 jawOpen .3 mouthLowerDown .2 mouthSmile .1
                 eyeLookUp .45 | onset=0.9
spellbound     | eyeWide .35 browInnerUp .45 browOuterUp .2 jawOpen .3 mouthLowerDown .2
                 mouthSmile .15 eyeLookUp .55
wonderstruck   | browInnerUp .75 browOuterUp .3 eyeWide .35 jawOpen .35 mouthLowerDown .15
                 mouthSmile .3 eyeLookUp .65 | pitch=-8
reverent       | browInnerUp .5 eyeBlink .2 mouthSmile .1 eyeLookUp .5 | pitch=-4
dazzled        | eyeWide .35 eyeSquint .25 browInnerUp .4 browOuterUp .2 jawOpen .2 mouthSmile
                 .35 eyeLookUp .45 | onset=0.3
marveling      | browInnerUp .6 browOuterUp .2 eyeWide .3 jawOpen .25 mouthLowerDown .15
                 mouthSmile .3 eyeLookUp .5
[pain]
strained       | browDown .45 eyeSquint .45 eyeBlink .2 cheekSquint .25 mouthStretch .45
                 noseSneer .25 mouthPress .2
pained         | browDown .55 browInnerUp .35 eyeSquint .55 eyeBlink .25 cheekSquint .35
                 noseSneer .4 mouthStretch .5
wincing        | eyeSquint .75 eyeBlink .5 browDown .6 cheekSquint .5 noseSneer .5 mouthStretch
                 .6 | onset=0.1
grimacing      | mouthStretch .85 mouthUpperUp .35 mouthLowerDown .35 browDown .55 eyeSquint .5
                 eyeBlink .25 cheekSquint .4 noseSneer .35
agonized       | browInnerUp .6 browDown .55 eyeSquint .75 eyeBlink .45 cheekSquint .55
                 noseSneer .55 mouthStretch .8 jawOpen .4
hurting        | browInnerUp .4 browDown .4 eyeSquint .45 eyeBlink .25 cheekSquint .3 noseSneer
                 .3 mouthStretch .4 | onset=0.4
aching         | browInnerUp .35 browDown .35 eyeSquint .35 eyeBlink .3 cheekSquint .2 noseSneer
                 .2 mouthStretch .25 mouthPress .2 | pitch=4 onset=0.7
suffering      | browInnerUp .55 browDown .45 eyeSquint .5 eyeBlink .35 cheekSquint .4 noseSneer
                 .35 mouthStretch .5 jawOpen .2 | onset=0.5
tormented      | browDown .65 browInnerUp .6 eyeSquint .65 eyeBlink .4 cheekSquint .5 noseSneer
                 .5 mouthStretch .65 jawOpen .3 mouthUpperUp .25
sore           | eyeSquint .35 eyeBlink .2 cheekSquint .2 browDown .3 mouthStretch .3
                 noseSneerLeft .3 mouthPress .2 | onset=0.5
[fatigue]
tired          | eyeBlink .5 browInnerUp .25 browOuterUp .2 jawOpen .15 | pitch=5
exhausted      | eyeBlink .6 browInnerUp .35 browOuterUp .25 jawOpen .25 mouthLowerDown .1 |
                 pitch=10 gaze=down
weary          | eyeBlink .5 browInnerUp .4 browOuterUp .15 jawOpen .2 | pitch=7
sleepy         | eyeBlink .65 browOuterUp .25 jawOpen .15 headRoll .06 | pitch=9 gaze=down
drowsy         | eyeBlink .7 browOuterUp .3 browInnerUp .1 jawOpen .2 eyeLookDown .3 headRoll
                 .08 | pitch=12 onset=1.5
drained        | eyeBlink .55 browInnerUp .3 browOuterUp .15 jawOpen .15 mouthFrown .15 |
                 pitch=8
fatigued       | eyeBlink .5 browInnerUp .25 browOuterUp .2 jawOpen .12 mouthStretch .1 |
                 pitch=6
worn-out       | eyeBlink .55 browInnerUp .45 browOuterUp .2 jawOpen .25 | pitch=9 gaze=down
groggy         | eyeBlink .6 eyeSquint .25 browOuterUp .2 jawOpen .15 mouthPucker .1 headRoll
                 .05
lethargic      | eyeBlink .55 browOuterUp .2 browInnerUp .15 jawOpen .25 | pitch=10 offset=1.4
[concentration]
focused        | browDown .4 eyeSquint .4 eyeLookIn .2 mouthPress .2 mouthPucker .15
concentrating  | browDown .5 eyeSquint .5 eyeLookIn .25 mouthPucker .25 mouthPress .15 |
                 gaze=down
attentive      | browDown .15 eyeSquint .15 eyeLookIn .25 mouthPress .15 mouthPucker .15
                 browInnerUp .1
absorbed       | browDown .3 eyeSquint .3 eyeLookIn .2 mouthPucker .25 | pitch=6 gaze=down
pensive        | browDown .25 eyeSquint .2 mouthPucker .3 mouthPress .2 | gaze=aside
thoughtful     | browDown .25 eyeSquint .15 mouthPucker .3 mouthRight .15 headRoll .06 | gaze=up
studious       | browDown .35 eyeSquint .35 eyeLookIn .2 mouthPress .25 | pitch=10 gaze=down
intent         | browDown .5 eyeSquint .5 eyeLookIn .3 mouthPress .3 mouthPucker .1
engrossed      | browDown .35 eyeSquint .3 eyeLookIn .25 mouthPucker .2 mouthPress .1 | pitch=5
                 gaze=down
contemplative  | browDown .15 eyeSquint .1 eyeBlink .15 mouthPucker .25 mouthPress .15 |
                 pitch=-3 gaze=up onset=1
[amusement]
amused         | mouthSmile .5 eyeSquint .45 cheekSquint .2 jawOpen .4 mouthLowerDown .35 |
                 pitch=-3
giggly         | mouthSmile .6 eyeSquint .6 cheekSquint .3 jawOpen .5 mouthLowerDown .4 |
                 pitch=-4 onset=0.25
tickled        | mouthSmile .55 eyeSquint .55 cheekSquint .3 jawOpen .45 mouthLowerDown .3
                 browInnerUp .25 | pitch=-3
playful        | mouthSmileLeft .6 mouthSmileRight .35 eyeSquint .35 browOuterUpLeft .35 jawOpen
                 .25 mouthLowerDown .2
mischievous    | mouthSmileRight .6 mouthSmileLeft .25 eyeSquint .45 browDownLeft .25
                 cheekSquintRight .35 jawOpen .2 mouthLowerDownRight .2 | pitch=4
bemused        | mouthSmile .3 eyeSquint .3 browInnerUp .3 browOuterUpRight .3 jawOpen .2
                 mouthLowerDown .15
merry          | mouthSmile .6 eyeSquint .55 cheekSquint .3 jawOpen .45 mouthLowerDown .35
                 browOuterUp .2 | pitch=-4
jovial         | mouthSmile .65 eyeSquint .5 cheekSquint .3 jawOpen .55 mouthLowerDown .4
                 browOuterUp .25 | pitch=-6
impish         | mouthSmileLeft .65 mouthSmileRight .2 eyeSquintLeft .5 eyeSquintRight .3
                 cheekSquintLeft .4 browOuterUpRight .3 jawOpen .2
wry            | mouthSmileRight .4 eyeSquint .3 browOuterUpRight .25 jawOpen .15
                 mouthLowerDownRight .2 mouthPressLeft .15
[determination]
tenacious      | browDown .4 mouthPress .45 jawForward .35 mouthShrugLower .3 eyeSquint .2
determined     | browDown .45 mouthPress .5 jawForward .4 mouthShrugLower .3 eyeSquint .15 |
                 pitch=3
resolute       | browDown .4 mouthPress .5 jawForward .35 mouthShrugLower .25 | pitch=-3
steely         | browDown .45 eyeSquint .2 mouthPress .45 jawForward .4 mouthShrugLower .25
defiant        | browDown .5 mouthPress .35 jawForward .45 mouthShrugLower .3 noseSneer .1 |
                 pitch=-8
stubborn       | mouthPress .55 browDown .35 jawForward .35 mouthShrugLower .4
fierce         | browDown .5 eyeSquint .2 mouthPress .35 jawForward .5 mouthShrugLower .3
                 noseSneer .15 | onset=0.3
driven         | browDown .4 eyeSquint .2 mouthPress .4 jawForward .35 mouthShrugLower .2 |
                 pitch=2
unyielding     | mouthPress .6 browDown .45 jawForward .4 mouthShrugLower .35
purposeful     | browDown .35 mouthPress .35 jawForward .3 mouthShrugLower .2 | pitch=-2
[worry]
overwhelmed    | browInnerUp .75 browDown .3 eyeWide .15 mouthStretch .3 mouthPress .35 |
                 pitch=3
worried        | browInnerUp .6 browDown .3 mouthStretch .3 mouthPress .35 eyeWide .15
concerned      | browInnerUp .5 browDown .35 mouthStretch .2 mouthPress .3 headRoll .04
troubled       | browInnerUp .55 browDown .4 mouthStretch .25 mouthPress .3 | pitch=4 gaze=down
apprehensive   | browInnerUp .55 browDown .3 eyeWide .15 mouthStretch .3 mouthPress .35 |
                 pitch=-2
distressed     | browInnerUp .8 browDown .35 eyeSquint .2 mouthStretch .45 mouthPress .25 |
                 onset=0.45
fretful        | browInnerUp .6 browDown .3 mouthPress .4 mouthStretch .3 eyeWide .1 |
                 gaze=aside
preoccupied    | browInnerUp .35 browDown .25 mouthPress .25 mouthStretch .15 eyeBlink .1 |
                 pitch=4 gaze=down
jittery        | browInnerUp .45 browDown .25 eyeWide .15 mouthStretch .3 mouthPress .35 |
                 gaze=aside onset=0.3
insecure       | browInnerUp .45 browDown .2 mouthPress .3 mouthStretch .2 | pitch=5 gaze=down
[affection]
doting         | mouthSmile .55 eyeBlink .4 browInnerUp .4 cheekSquint .2 headRoll .12
affectionate   | mouthSmile .5 eyeBlink .4 browInnerUp .3 cheekSquint .15 headRoll .1
tender         | mouthSmile .4 eyeBlink .4 browInnerUp .4 headRoll .1
loving         | mouthSmile .5 eyeBlink .45 browInnerUp .3 cheekSquint .2 headRoll .08
adoring        | mouthSmile .55 eyeBlink .35 browInnerUp .5 cheekSquint .15 headRoll .1
warm           | mouthSmile .5 eyeBlink .4 cheekSquint .2 browInnerUp .2 headRoll .07
fond           | mouthSmile .45 eyeBlink .4 cheekSquint .15 browInnerUp .15 headRoll .06
compassionate  | browInnerUp .5 mouthSmile .3 eyeBlink .35 headRoll .1 | pitch=3
caring         | browInnerUp .4 mouthSmile .4 eyeBlink .35 headRoll .08 | pitch=2
sympathetic    | browInnerUp .55 mouthSmile .25 eyeBlink .35 mouthFrown .1 headRoll .12
"""


def _parse_channels(spec: str) -> dict[str, float]:
    """Parse ``"name weight name weight …"``, expanding unsided bilateral names to both sides."""
    tokens = spec.split()
    if len(tokens) % 2:
        raise ValueError(f"odd channel spec {spec!r}: expected name/weight pairs")
    channels: dict[str, float] = {}
    for name, weight in zip(tokens[::2], tokens[1::2], strict=True):
        names = [name + "Left", name + "Right"] if name in _BILATERAL else [name]
        for n in names:
            channels[n] = float(weight)
    return channels


def _rows(table: str) -> list[tuple[str, str]]:
    """Split :data:`_TABLE` into (category, row text) pairs, joining continuation lines."""
    rows: list[tuple[str, str]] = []
    category = ""
    for line in table.splitlines():
        if not line.strip():
            continue
        if line.startswith("["):
            category = line.strip("[] ")
        elif line[0].isspace():
            rows[-1] = (rows[-1][0], rows[-1][1] + " " + line.strip())
        else:
            rows.append((category, line))
    return rows


def _build(table: str) -> dict[str, ExpressionRecipe]:
    """Expand the table into recipes, applying the per-category dynamics."""
    recipes: dict[str, ExpressionRecipe] = {}
    for category, row in _rows(table):
        word, spec, *rest = (part.strip() for part in row.split("|"))
        extra = dict(item.split("=") for item in rest[0].split()) if rest else {}
        onset, offset = CATEGORY_DYNAMICS[category]
        if word in recipes:
            raise ValueError(f"expression word {word!r} is listed twice")
        recipes[word] = ExpressionRecipe(
            word=word,
            category=category,
            channels=_parse_channels(spec),
            onset_s=float(extra.get("onset", onset)),
            offset_s=float(extra.get("offset", offset)),
            head_pitch_deg=float(extra.get("pitch", 0.0)),
            gaze=extra.get("gaze", ""),
        )
    return recipes


#: Every expression word -> its recipe, grouped by category in table order.
EXPRESSIONS: dict[str, ExpressionRecipe] = _build(_TABLE)
