"""The offline script writer: splits the content into intro, timed segments and outro.

Its output has the same shape and goes through the same validator as a Gemini script.
"""

from __future__ import annotations

import re
from collections import Counter

from ytmaker.core.script import Script, ScriptRequest, ScriptSection, Segment, VideoMetadata
from ytmaker.media.text import split_sentences, spoken_length

# Speaking rates of the local voices (espeak-ng defaults), measured on sample text:
# about 3.0 words/s in English and 2.9 characters/s in Mandarin. A pause follows each sentence.
UNITS_PER_SECOND = {"zh": 2.9, "en": 3.0}
SENTENCE_PAUSE = 0.25
TARGET_SEGMENT_SECONDS = 12.0

_STOPWORDS = set(
    "the a an and or but of to in on at for with from by is are was were be been it its this that "
    "these those as not no so than then there their they them we our you your he she his her i "
    "can will would could should may might have has had do does did into over about more most very".split()
)


# Function words and numerals make poor Chinese tags.
_ZH_STOPCHARS = set("的是在有和了也不就都這那個們我你他她它之與及或而於以為被把從到會可能要一二三四五六七八九十零百千萬年月日")


def _lang(language: str) -> str:
    return "zh" if language.lower().startswith(("zh", "cmn")) else "en"


def estimate_seconds(text: str, language: str) -> float:
    sentences = split_sentences(text) or [text]
    units = sum(spoken_length(s) for s in sentences)
    return units / UNITS_PER_SECOND[_lang(language)] + SENTENCE_PAUSE * len(sentences)


def _group_segments(paragraphs: list[list[str]], language: str, min_seconds: float, max_seconds: float) -> list[list[str]]:
    """Sentences -> segments near the target length, never across a paragraph unless a
    segment would be shorter than the minimum (then it joins its shorter neighbour)."""
    target = min(TARGET_SEGMENT_SECONDS, max_seconds)
    groups: list[list[str]] = []
    for sentences in paragraphs:
        current: list[str] = []
        for sentence in sentences:
            candidate = current + [sentence]
            if current and estimate_seconds(_join(candidate, language), language) > target:
                groups.append(current)
                current = [sentence]
            else:
                current = candidate
        if current:
            groups.append(current)

    def seconds(group: list[str]) -> float:
        return estimate_seconds(_join(group, language), language)

    merged = True
    while merged and len(groups) > 1:
        merged = False
        for i, group in enumerate(groups):
            if seconds(group) >= min_seconds:
                continue
            neighbours = [j for j in (i - 1, i + 1) if 0 <= j < len(groups)]
            j = min(neighbours, key=lambda k: seconds(groups[k]))
            a, b = sorted((i, j))
            if seconds(groups[a] + groups[b]) <= max_seconds:
                groups[a : b + 1] = [groups[a] + groups[b]]
                merged = True
                break
    return groups


def _join(sentences: list[str], language: str) -> str:
    return ("" if _lang(language) == "zh" else " ").join(sentences)


def _shorten(text: str, limit: int) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _tags(title: str, content: str, language: str) -> list[str]:
    tags = [title[:30]]
    if _lang(language) == "zh":
        # Frequent two-character words are a fair guess at Chinese keywords.
        runs = re.findall(r"[\u4e00-\u9fff]+", content)
        counts = Counter(
            run[i : i + 2] for run in runs for i in range(len(run) - 1) if not set(run[i : i + 2]) & _ZH_STOPCHARS
        )
    else:
        words = re.findall(r"[A-Za-z][A-Za-z'-]{3,}", content.lower())
        counts = Counter(w for w in words if w not in _STOPWORDS)
    tags += [word for word, n in counts.most_common(12) if n >= 2][:8]
    return list(dict.fromkeys(tags))


class LocalScriptWriter:
    def write(self, request: ScriptRequest) -> Script:
        language = request.language
        zh = _lang(language) == "zh"
        title = request.title.strip()
        paragraphs = [split_sentences(p) for p in re.split(r"\n\s*\n", request.content) if p.strip()]
        limits = request.limits
        groups = _group_segments([p for p in paragraphs if p], language, limits.min_segment, limits.max_segment)
        segments = []
        for index, group in enumerate(groups, start=1):
            text = _join(group, language)
            segments.append(
                Segment(
                    index=index,
                    text=text,
                    # Narration pads a short segment with silence up to the minimum.
                    duration=round(max(estimate_seconds(text, language), limits.min_segment), 2),
                    image_description=_shorten(group[0], 60),
                )
            )
        if zh:
            intro = f"歡迎收看。今天的主題是：{title}。讓我們開始吧！"
            outro = f"以上就是關於{title}的介紹。感謝收看，喜歡的話請按讚並訂閱頻道，我們下次見！"
        else:
            intro = f"Welcome! Today's topic is {title}. Let's get started."
            outro = f"That was our look at {title}. Thanks for watching, and subscribe for more. See you next time!"
        intro_section = ScriptSection(text=intro, duration=round(estimate_seconds(intro, language), 2))
        outro_section = ScriptSection(text=outro, duration=round(estimate_seconds(outro, language), 2))
        total = intro_section.duration + sum(s.duration for s in segments) + outro_section.duration
        first = _shorten(request.content, 300 if zh else 450)
        return Script(
            intro=intro_section,
            segments=segments,
            outro=outro_section,
            metadata=VideoMetadata(
                title=_shorten(title, 100),
                description=f"{first}\n\n{'本影片由 ytmaker 自動製作。' if zh else 'Made with ytmaker.'}",
                tags=_tags(title, request.content, language),
            ),
            total_duration=round(total, 2),
        )
