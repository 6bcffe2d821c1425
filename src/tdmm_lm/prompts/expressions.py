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

Words within a category differ in their channel mixes and weights, not only in name
(``tests/prompts`` checks that no two recipes of a category are identical).
"""

from __future__ import annotations

from tdmm_lm.prompts.schema import ExpressionRecipe

__all__ = ["CATEGORY_DYNAMICS", "EXPRESSIONS", "MAX_POSTURE_RAD", "VERB_FORMS"]

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
calm           | eyeBlink .1
expressionless | mouthPress .05 eyeWide .05
blank          | eyeWide .1 jawOpen .05
impassive      | mouthPress .15 browDown .05
relaxed        | eyeBlink .15 jawOpen .05 mouthSmile .05
serene         | eyeBlink .2 mouthSmile .1 browInnerUp .05
stoic          | mouthPress .25 browDown .1 jawForward .05
composed       | mouthPress .1 eyeSquint .05 | pitch=-2
deadpan        | mouthPress .2 eyeBlink .2 browOuterUp .05
[happiness]
happy          | mouthSmile .7 cheekSquint .45 eyeSquint .2
smiling        | mouthSmile .6 cheekSquint .3
grinning       | mouthSmile .9 cheekSquint .5 mouthUpperUp .35 mouthLowerDown .3 jawOpen .1
beaming        | mouthSmile 1 cheekSquint .8 eyeSquint .5 browOuterUp .15 jawOpen .15
delighted      | mouthSmile .85 cheekSquint .6 eyeSquint .35 browInnerUp .2 browOuterUp .25
                 jawOpen .25 | onset=0.3
joyful         | mouthSmile .9 cheekSquint .7 eyeSquint .45 jawOpen .3 mouthUpperUp .2
cheerful       | mouthSmile .65 cheekSquint .4 browOuterUp .2 eyeWide .1
elated         | mouthSmile 1 cheekSquint .75 eyeWide .2 browOuterUp .35 browInnerUp .3 jawOpen
                 .4 | pitch=-4
content        | mouthSmile .35 cheekSquint .15 eyeBlink .15 mouthPress .1 | onset=0.8
ecstatic       | mouthSmile 1 cheekSquint .9 eyeSquint .6 jawOpen .55 browOuterUp .4
                 mouthUpperUp .3 | pitch=-6 onset=0.3
[sadness]
sad            | browInnerUp .6 mouthFrown .5 mouthShrugLower .3 eyeLookDown .2 | pitch=5
                 gaze=down
sorrowful      | browInnerUp .8 browDown .2 mouthFrown .6 mouthShrugLower .4 eyeBlink .2 |
                 pitch=8 gaze=down onset=1
gloomy         | browDown .3 browInnerUp .3 mouthFrown .45 eyeBlink .25 mouthPress .15 | pitch=6
melancholy     | browInnerUp .5 mouthFrown .3 eyeBlink .3 eyeLookDown .3 | pitch=5 gaze=down
                 onset=1.2
heartbroken    | browInnerUp 1 mouthFrown .8 mouthShrugLower .6 mouthStretch .25 eyeSquint .3 |
                 pitch=10 gaze=down
tearful        | browInnerUp .85 eyeSquint .4 cheekSquint .2 mouthFrown .6 mouthShrugLower .5
                 mouthRollLower .2
downcast       | browInnerUp .4 mouthFrown .35 eyeLookDown .6 eyeBlink .2 | pitch=12 gaze=down
dejected       | browInnerUp .55 mouthFrown .5 eyeBlink .3 jawOpen .08 | pitch=10 gaze=down
crying         | browInnerUp 1 eyeSquint .6 cheekSquint .4 mouthFrown .7 mouthStretch .5 jawOpen
                 .3 mouthLowerDown .3 noseSneer .2 | onset=0.6
miserable      | browInnerUp .7 browDown .3 mouthFrown .75 mouthShrugLower .45 eyeSquint .2 |
                 pitch=6
[anger]
angry          | browDown .8 eyeSquint .3 eyeWide .2 mouthPress .5 noseSneer .3 mouthFrown .2
annoyed        | browDown .45 mouthPress .4 eyeSquint .15 mouthFrown .15 | onset=0.4
irritated      | browDown .5 noseSneer .2 mouthPress .3 eyeSquint .25 mouthRollLower .15
furious        | browDown 1 eyeWide .5 noseSneer .6 mouthUpperUp .4 mouthStretch .3 jawOpen .2
                 mouthFrown .3 | onset=0.25
enraged        | browDown 1 eyeSquint .5 noseSneer .7 mouthUpperUp .6 jawOpen .35 mouthStretch
                 .4 | onset=0.25
frowning       | browDown .7 mouthFrown .5 browInnerUp .1
scowling       | browDown .9 eyeSquint .4 mouthFrown .4 noseSneer .25 mouthPress .3
glaring        | browDown .75 eyeWide .35 mouthPress .45 eyeLookUp .2 | pitch=4
livid          | browDown .95 eyeWide .6 mouthPress .7 noseSneer .4 mouthRollLower .2 jawForward
                 .2
indignant      | browDown .6 browInnerUp .2 eyeWide .3 mouthPress .35 mouthShrugLower .2 |
                 pitch=-4
[fear]
afraid         | browInnerUp .7 browOuterUp .5 eyeWide .7 mouthStretch .4 jawOpen .15
scared         | browInnerUp .8 browOuterUp .6 eyeWide .8 mouthStretch .55 jawOpen .25 |
                 pitch=-3
frightened     | browInnerUp .85 browOuterUp .7 eyeWide .9 mouthStretch .6 jawOpen .3
                 mouthLowerDown .3
terrified      | browInnerUp 1 browOuterUp .9 eyeWide 1 mouthStretch .9 jawOpen .5
                 mouthLowerDown .4 | onset=0.2 pitch=-5
anxious        | browInnerUp .6 browDown .2 eyeWide .3 mouthPress .35 mouthStretch .15
                 mouthRollLower .2 | onset=0.5
nervous        | browInnerUp .5 mouthStretch .25 mouthPress .25 eyeWide .25 mouthRollLower .3 |
                 onset=0.5 gaze=aside
panicked       | browInnerUp .95 browOuterUp .8 eyeWide .95 mouthStretch .7 jawOpen .6 |
                 onset=0.15
alarmed        | browInnerUp .6 browOuterUp .7 eyeWide .8 jawOpen .2 mouthStretch .2 | onset=0.2
horrified      | browInnerUp .9 browOuterUp .6 eyeWide .9 noseSneer .3 mouthStretch .7 jawOpen
                 .55 mouthUpperUp .3
uneasy         | browInnerUp .35 browDown .15 mouthPress .25 mouthStretch .15 | onset=0.6
                 gaze=aside
[surprise]
surprised      | browInnerUp .8 browOuterUp .8 eyeWide .7 jawOpen .4
astonished     | browInnerUp .95 browOuterUp .95 eyeWide .9 jawOpen .6 mouthFunnel .15
amazed         | browInnerUp .85 browOuterUp .85 eyeWide .75 jawOpen .5 mouthSmile .2 |
                 onset=0.2
startled       | browInnerUp .7 browOuterUp .6 eyeWide 1 jawOpen .2 mouthStretch .3 | onset=0.08
                 pitch=-5
stunned        | browInnerUp .6 browOuterUp .7 eyeWide .8 jawOpen .55 mouthLowerDown .2 |
                 offset=1.2
astounded      | browInnerUp 1 browOuterUp 1 eyeWide .85 jawOpen .7 mouthFunnel .25 | onset=0.2
shocked        | browInnerUp .9 browOuterUp .8 eyeWide .95 jawOpen .65 mouthStretch .25 |
                 onset=0.1 pitch=-4
dumbfounded    | browInnerUp .7 browOuterUp .5 eyeWide .6 jawOpen .75 eyeBlink .1 | onset=0.3
flabbergasted  | browOuterUp 1 browInnerUp .8 eyeWide .9 jawOpen .8 mouthFunnel .3
wide-eyed      | eyeWide 1 browOuterUp .6 browInnerUp .5 jawOpen .15
[disgust]
disgusted      | noseSneer .8 mouthUpperUp .7 browDown .5 eyeSquint .3 mouthFrown .2
revolted       | noseSneer 1 mouthUpperUp .9 browDown .6 eyeSquint .5 mouthStretch .3 jawOpen
                 .15 | pitch=-4
repulsed       | noseSneer .9 mouthUpperUp .6 browDown .4 mouthFrown .4 eyeSquint .4 | pitch=-6
nauseated      | noseSneer .6 mouthUpperUp .4 mouthFrown .5 eyeSquint .3 browInnerUp .3 jawOpen
                 .1 | onset=0.6
sickened       | noseSneer .7 browInnerUp .35 browDown .3 mouthFrown .55 mouthShrugLower .3
                 eyeSquint .3
appalled       | noseSneer .6 mouthUpperUp .5 eyeWide .4 browDown .3 browInnerUp .3 jawOpen .3 |
                 onset=0.25
squeamish      | noseSneer .5 mouthStretch .35 eyeSquint .35 browInnerUp .4 mouthUpperUp .25
sneering       | noseSneerLeft .8 noseSneerRight .35 mouthUpperUpLeft .8 mouthUpperUpRight .3
                 browDown .3
queasy         | noseSneer .3 mouthFrown .35 mouthPress .4 cheekPuff .2 eyeSquint .25
                 browInnerUp .35 | onset=0.8
offended       | noseSneer .4 mouthUpperUp .3 browDown .45 mouthPress .3 | pitch=-5
[contempt]
contemptuous   | mouthSmileLeft .5 mouthDimpleLeft .6 browDown .15 eyeSquint .2 | pitch=-4
smirking       | mouthSmileLeft .6 mouthDimpleLeft .3 cheekSquintLeft .25
scornful       | mouthDimpleLeft .7 mouthUpperUpLeft .3 noseSneerLeft .3 browDown .2 | pitch=-5
disdainful     | mouthDimpleRight .6 mouthSmileRight .3 eyeBlink .25 | pitch=-8
condescending  | mouthSmileRight .4 mouthDimpleRight .4 browOuterUp .3 eyeBlink .15 | pitch=-6
haughty        | eyeBlink .3 mouthPress .25 mouthDimpleLeft .3 browOuterUp .2 | pitch=-10
mocking        | mouthSmileLeft .7 mouthSmileRight .25 browOuterUpLeft .4 mouthDimpleLeft .3
                 cheekSquintLeft .3
dismissive     | mouthDimpleRight .5 mouthPressRight .3 eyeBlink .2 browOuterUp .2 | gaze=aside
sardonic       | mouthSmileRight .5 mouthDimpleRight .45 browDownRight .3 browOuterUpLeft .35
superior       | mouthDimple .25 mouthPress .2 eyeBlink .2 | pitch=-8
[embarrassment]
embarrassed    | mouthSmile .4 mouthPress .3 browInnerUp .3 eyeLookDown .5 headYaw .1 | pitch=8
                 gaze=down
sheepish       | mouthSmile .45 mouthDimple .2 browInnerUp .35 mouthRollLower .15 | pitch=6
                 gaze=down
bashful        | mouthSmile .35 cheekSquint .3 eyeBlink .15 headRoll .08 | pitch=10 gaze=down
shy            | mouthSmile .25 mouthPress .2 eyeLookDown .4 headYaw .12 | pitch=8 gaze=down
awkward        | mouthStretch .35 mouthSmile .2 browInnerUp .4 mouthPress .3 | gaze=aside
blushing       | mouthSmile .5 cheekSquint .4 eyeSquint .2 | pitch=7 gaze=down
flustered      | browInnerUp .5 eyeWide .2 mouthSmile .3 mouthStretch .25 mouthRollLower .2 |
                 gaze=aside onset=0.35
mortified      | browInnerUp .7 eyeSquint .3 mouthStretch .5 mouthPress .4 | pitch=12 gaze=down
self-conscious | mouthPress .35 mouthSmile .15 browInnerUp .3 eyeLookDown .3 | pitch=5 gaze=down
ashamed        | browInnerUp .55 mouthFrown .35 mouthPress .3 | pitch=14 gaze=down onset=0.9
[pride]
boastful       | mouthSmileLeft .7 mouthSmileRight .5 cheekSquint .3 browOuterUp .25 | pitch=-9
proud          | mouthSmile .45 cheekSquint .2 eyeSquint .1 | pitch=-8
confident      | mouthSmile .35 mouthPress .15 browOuterUp .1 | pitch=-5
smug           | mouthSmileLeft .55 mouthSmileRight .35 eyeBlink .25 mouthPress .2 | pitch=-6
triumphant     | mouthSmile .85 cheekSquint .5 jawOpen .3 browOuterUp .3 | pitch=-12 onset=0.4
self-assured   | mouthSmile .3 mouthPress .25 eyeSquint .15 | pitch=-7
dignified      | mouthPress .2 mouthSmile .1 browOuterUp .05 | pitch=-6
victorious     | mouthSmile .9 jawOpen .45 cheekSquint .6 browDown .2 eyeSquint .3 | pitch=-10
                 onset=0.35
accomplished   | mouthSmile .55 cheekSquint .3 eyeSquint .2 browInnerUp .1 | pitch=-5
satisfied      | mouthSmile .4 mouthPress .25 eyeBlink .1 | pitch=-3
[boredom]
unenthusiastic | eyeBlink .35 mouthShrugLower .3 mouthFrown .15 browInnerUp .05 | pitch=4 gaze=down
bored          | eyeBlink .35 jawOpen .05 mouthFrown .1 mouthShrugUpper .1 | pitch=3 gaze=aside
uninterested   | eyeBlink .3 mouthPress .15 browDown .05 headYaw .1 | gaze=aside
indifferent    | eyeBlink .2 mouthShrugLower .25 mouthPress .1 browOuterUp .1
apathetic      | eyeBlink .4 mouthFrown .15 jawOpen .08 | pitch=5
listless       | eyeBlink .45 jawOpen .12 mouthFrown .1 browInnerUp .1 | pitch=8 gaze=down
disengaged     | eyeBlink .3 mouthPress .1 eyeLookOutLeft .3 eyeLookInRight .3 | gaze=aside
unimpressed    | eyeBlink .3 mouthPress .35 mouthShrugLower .3 browOuterUp .15
jaded          | eyeBlink .3 mouthFrown .2 mouthDimpleLeft .2
vacant         | eyeBlink .2 eyeWide .05 jawOpen .15
[confusion]
confused       | browDownLeft .5 browInnerUp .4 browOuterUpRight .3 mouthPress .2 mouthLeft .2
                 headRoll .1
puzzled        | browDown .4 browInnerUp .35 eyeSquint .2 mouthPucker .2 headRoll .12
perplexed      | browDown .55 browInnerUp .5 eyeSquint .25 mouthPress .25 headRoll .08
baffled        | browInnerUp .6 browOuterUpLeft .5 browDownRight .3 jawOpen .15 headRoll .1
bewildered     | browInnerUp .7 browOuterUp .4 eyeWide .35 jawOpen .2 browDownRight .2 headRoll
                 .06 | onset=0.35
uncertain      | browInnerUp .4 mouthPress .3 mouthRight .2 headRoll .05 | gaze=aside
disoriented    | eyeWide .3 browInnerUp .45 jawOpen .1 | gaze=aside
mystified      | browOuterUpRight .55 browDownLeft .35 eyeSquintLeft .3 mouthPucker .15 headRoll
                 -.1
quizzical      | browOuterUpLeft .6 browDownRight .3 mouthSmileRight .15 mouthPucker .1 headRoll
                 .12
befuddled      | browDown .35 browInnerUp .45 eyeBlink .15 jawOpen .15 mouthLeft .15 headRoll
                 .09
[skepticism]
skeptical      | browOuterUpLeft .7 browDownRight .35 mouthPress .4 eyeSquintRight .3
doubtful       | browInnerUp .3 browOuterUpRight .4 mouthPress .35 mouthFrown .2
suspicious     | eyeSquint .5 browDown .4 mouthPress .35 headYaw .08 | gaze=aside
distrustful    | eyeSquint .55 browDown .5 mouthPress .4 jawForward .1 | pitch=3
incredulous    | browOuterUpLeft .8 browInnerUp .4 eyeWide .3 jawOpen .15 mouthSmileRight .1 |
                 onset=0.3
wary           | eyeSquint .35 browDown .3 mouthPress .3 | pitch=4 gaze=aside
unconvinced    | browOuterUpRight .55 mouthPressLeft .4 mouthDimpleLeft .25 mouthShrugLower .2
dubious        | browDownLeft .4 browOuterUpRight .5 eyeSquintLeft .35 mouthRight .2 mouthPress
                 .2
cynical        | mouthDimpleRight .35 browDownLeft .35 eyeSquint .3 mouthPressRight .3
questioning    | browOuterUpRight .6 browInnerUp .35 headRoll -.08 mouthPress .15
[relief]
relieved       | browInnerUp .25 mouthFunnel .3 mouthSmile .35 eyeBlink .2 | pitch=-3 onset=0.6
reassured      | mouthSmile .4 browInnerUp .2 eyeBlink .15 mouthPress .1
soothed        | eyeBlink .35 mouthSmile .25 jawOpen .05 | onset=1
unburdened     | browInnerUp .3 mouthFunnel .2 mouthSmile .3 eyeBlink .25 | pitch=-5
comforted      | mouthSmile .35 cheekSquint .15 eyeBlink .3 browInnerUp .15 headRoll .05
consoled       | browInnerUp .35 mouthSmile .2 eyeBlink .25 mouthPress .15 | pitch=3
thankful       | mouthSmile .55 cheekSquint .3 browInnerUp .35 eyeBlink .15 | pitch=3
grateful       | mouthSmile .5 browInnerUp .4 cheekSquint .25 eyeSquint .15 | pitch=4
refreshed      | mouthSmile .3 eyeWide .15 browOuterUp .15 mouthFunnel .15 | pitch=-4
sighing        | mouthFunnel .45 jawOpen .15 eyeBlink .3 browInnerUp .25 | pitch=4
[awe]
awed           | browInnerUp .7 browOuterUp .6 eyeWide .6 jawOpen .35 | pitch=-6 gaze=up
awestruck      | browInnerUp .85 browOuterUp .75 eyeWide .8 jawOpen .5 | pitch=-10 gaze=up
enchanted      | mouthSmile .4 browInnerUp .5 browOuterUp .3 eyeWide .3 jawOpen .15
captivated     | browInnerUp .45 eyeWide .5 jawOpen .2 mouthSmile .15
mesmerized     | eyeWide .55 browInnerUp .3 jawOpen .3 | onset=0.9
spellbound     | eyeWide .65 browOuterUp .5 jawOpen .4 mouthFunnel .1
wonderstruck   | browInnerUp .8 browOuterUp .8 eyeWide .7 jawOpen .45 mouthSmile .25 | pitch=-8
                 gaze=up
reverent       | browInnerUp .5 eyeBlink .2 mouthPress .15 | pitch=-4 gaze=up
dazzled        | eyeWide .6 eyeSquint .3 browOuterUp .55 jawOpen .3 mouthSmile .3 | onset=0.3
marveling      | browInnerUp .6 browOuterUp .55 eyeWide .45 jawOpen .3 mouthSmile .2 | gaze=up
[pain]
strained       | browDown .5 eyeSquint .45 mouthStretch .45 mouthPress .3 noseSneer .2 jawForward .1
pained         | browDown .6 browInnerUp .4 eyeSquint .6 noseSneer .4 mouthStretch .5
                 cheekSquint .3
wincing        | eyeSquint .8 eyeBlink .4 browDown .7 noseSneer .5 mouthStretch .6 cheekSquint
                 .5 | onset=0.1
grimacing      | mouthStretch .9 mouthUpperUp .4 mouthLowerDown .4 browDown .6 eyeSquint .5
                 noseSneer .4
agonized       | browInnerUp .8 browDown .5 eyeSquint .8 eyeBlink .3 mouthStretch .8 jawOpen .45
                 noseSneer .6 cheekSquint .6
hurting        | browInnerUp .55 browDown .35 eyeSquint .4 mouthFrown .4 mouthStretch .35
                 noseSneer .25 | onset=0.4
aching         | browInnerUp .45 browDown .3 eyeBlink .25 mouthPress .4 mouthFrown .3 | pitch=4
                 onset=0.7
suffering      | browInnerUp .7 browDown .45 eyeSquint .5 mouthStretch .5 mouthFrown .4
                 noseSneer .35 jawOpen .2 | onset=0.5
tormented      | browDown .7 browInnerUp .7 eyeSquint .7 noseSneer .55 mouthStretch .7 jawOpen
                 .3 mouthUpperUp .3
sore           | eyeSquint .3 browDown .3 mouthPress .35 mouthStretch .2 noseSneerLeft .3 |
                 onset=0.5
[fatigue]
tired          | eyeBlink .45 browInnerUp .2 jawOpen .05 mouthFrown .15 | pitch=5
exhausted      | eyeBlink .6 browInnerUp .35 jawOpen .15 mouthFrown .25 | pitch=10 gaze=down
weary          | eyeBlink .45 browInnerUp .4 mouthFrown .25 mouthPress .15 | pitch=7
sleepy         | eyeBlink .65 jawOpen .1 browInnerUp .1 headRoll .06 | pitch=9 gaze=down
drowsy         | eyeBlink .7 jawOpen .15 eyeLookDown .3 headRoll .08 | pitch=12 gaze=down
                 onset=1.5
drained        | eyeBlink .5 browInnerUp .3 mouthFrown .3 jawOpen .1 | pitch=8
fatigued       | eyeBlink .5 browInnerUp .25 mouthStretch .1 mouthFrown .2 | pitch=6
worn-out       | eyeBlink .55 browInnerUp .45 jawOpen .2 mouthFrown .3 | pitch=9 gaze=down
groggy         | eyeBlink .6 eyeSquint .3 browDown .25 jawOpen .12 mouthPucker .1 headRoll .05
lethargic      | eyeBlink .55 jawOpen .2 mouthFrown .15 browInnerUp .15 | pitch=10 offset=1.4
[concentration]
focused        | browDown .4 eyeSquint .35 mouthPress .35
concentrating  | browDown .55 eyeSquint .45 mouthPress .45 mouthRollLower .2
attentive      | browOuterUp .2 browInnerUp .15 eyeWide .25 mouthPress .15
absorbed       | browDown .3 eyeSquint .25 mouthPucker .2 | pitch=6 gaze=down
pensive        | browInnerUp .3 browDown .2 mouthPress .25 mouthLeft .2 | gaze=aside
thoughtful     | browDown .25 mouthPucker .25 mouthRight .2 headRoll .06 | gaze=up
studious       | browDown .35 eyeSquint .3 mouthPress .2 | pitch=10 gaze=down
intent         | browDown .6 eyeSquint .5 mouthPress .5 jawForward .1
engrossed      | browDown .35 eyeSquint .2 mouthRollLower .25 mouthPress .2 | pitch=5 gaze=down
contemplative  | browInnerUp .2 eyeBlink .2 mouthPress .2 | pitch=-3 gaze=up onset=1
[amusement]
amused         | mouthSmile .6 cheekSquint .4 eyeSquint .3 mouthDimple .15
giggly         | mouthSmile .8 cheekSquint .6 eyeSquint .5 jawOpen .25 | onset=0.25
tickled        | mouthSmile .7 cheekSquint .55 eyeSquint .45 browInnerUp .2 jawOpen .15
playful        | mouthSmileLeft .6 mouthSmileRight .4 browOuterUpLeft .35 cheekSquint .3
mischievous    | mouthSmileRight .65 mouthSmileLeft .3 eyeSquint .35 browDownLeft .25
                 cheekSquintRight .4 | pitch=4
bemused        | mouthSmile .3 browInnerUp .3 browOuterUpRight .3 mouthDimple .2
merry          | mouthSmile .75 cheekSquint .6 eyeSquint .35 browOuterUp .25 jawOpen .2
jovial         | mouthSmile .8 cheekSquint .5 jawOpen .3 browOuterUp .3 eyeSquint .3 | pitch=-3
impish         | mouthSmileLeft .7 mouthSmileRight .25 cheekSquintLeft .5 eyeSquintLeft .3
                 browOuterUpRight .3
wry            | mouthSmileRight .4 mouthDimpleRight .3 mouthPressLeft .25 browOuterUpRight .2
[determination]
tenacious      | browDown .45 mouthPress .45 jawForward .2 eyeSquint .3 mouthRollLower .15
determined     | browDown .55 mouthPress .55 jawForward .2 eyeSquint .2 | pitch=3
resolute       | browDown .45 mouthPress .5 mouthFrown .1 | pitch=-3
steely         | browDown .5 eyeSquint .45 mouthPress .45 jawForward .1
defiant        | browDown .6 mouthPress .35 jawForward .35 noseSneer .15 | pitch=-8
stubborn       | mouthPress .6 browDown .4 jawForward .25 mouthShrugLower .3
fierce         | browDown .75 eyeWide .4 mouthStretch .2 noseSneer .3 jawForward .2 mouthUpperUp
                 .25 | onset=0.3
driven         | browDown .4 eyeSquint .25 mouthPress .4 eyeWide .15 | pitch=2
unyielding     | mouthPress .7 browDown .5 jawForward .3 mouthRollLower .2
purposeful     | browDown .35 mouthPress .35 eyeWide .1 mouthSmile .05 | pitch=-2
[worry]
overwhelmed    | browInnerUp .75 eyeWide .3 mouthStretch .35 mouthFrown .3 jawOpen .1 | pitch=3
worried        | browInnerUp .65 browDown .2 mouthPress .3 mouthStretch .2 eyeWide .15
concerned      | browInnerUp .5 browDown .3 mouthFrown .2 mouthPress .2 headRoll .04
troubled       | browInnerUp .55 browDown .4 mouthFrown .35 mouthPress .3 | pitch=4 gaze=down
apprehensive   | browInnerUp .55 eyeWide .3 mouthStretch .3 mouthPress .25 | pitch=-2
distressed     | browInnerUp .8 browDown .3 eyeSquint .25 mouthStretch .45 mouthFrown .35 |
                 onset=0.45
fretful        | browInnerUp .6 mouthRollLower .4 mouthPress .3 eyeWide .2 | gaze=aside
preoccupied    | browInnerUp .35 browDown .25 mouthPress .2 eyeBlink .1 | pitch=4 gaze=down
jittery        | browInnerUp .45 eyeWide .35 mouthStretch .3 mouthRollLower .25 | gaze=aside
                 onset=0.3
insecure       | browInnerUp .45 mouthPress .3 mouthShrugLower .25 | pitch=5 gaze=down
[affection]
doting         | mouthSmile .7 browInnerUp .4 cheekSquint .45 eyeSquint .35 headRoll .11
affectionate   | mouthSmile .55 cheekSquint .35 eyeSquint .25 eyeBlink .15 headRoll .08
                 browInnerUp .2
tender         | mouthSmile .4 browInnerUp .35 eyeBlink .2 headRoll .1
loving         | mouthSmile .6 cheekSquint .4 eyeSquint .3 browInnerUp .25 headRoll .07
adoring        | mouthSmile .65 browInnerUp .45 eyeWide .2 cheekSquint .35 headRoll .09
warm           | mouthSmile .5 cheekSquint .3 eyeSquint .2
fond           | mouthSmile .45 cheekSquint .25 eyeBlink .2 headRoll .05
compassionate  | browInnerUp .5 mouthSmile .3 mouthPress .15 headRoll .08 | pitch=3
caring         | browInnerUp .35 mouthSmile .4 eyeSquint .15 headRoll .06 | pitch=2
sympathetic    | browInnerUp .55 mouthFrown .1 mouthSmile .2 mouthPress .2 headRoll .1
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
