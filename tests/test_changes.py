"""Change reports mark what changed: by word where a script spaces its words, by character where it does not."""

from __future__ import annotations

from coalition.changes import Change, Mark, change_report_html, word_diff
from coalition.records.proofs import Proof


def test_a_latin_edit_is_marked_word_by_word():
    assert word_diff("a very challenging time", "a very difficult time") == [
        (Mark.SAME, "a very "), (Mark.REMOVED, "challenging"), (Mark.ADDED, "difficult"),
        (Mark.SAME, " time")]


def test_a_chinese_edit_marks_only_the_characters_that_changed():
    runs = word_diff("我们敦促立即释放阿斯卡罗夫先生。", "我们敦促立刻无条件释放阿斯卡罗夫先生。")
    assert runs == [(Mark.SAME, "我们敦促立"), (Mark.REMOVED, "即"), (Mark.ADDED, "刻无条件"),
                    (Mark.SAME, "释放阿斯卡罗夫先生。")]


def test_a_japanese_edit_inside_mixed_text_keeps_the_latin_words_whole():
    runs = word_diff("国連総会決議 A/RES/70/175 に基づき", "国連総会決議 A/RES/70/176 に基づき")
    assert (Mark.REMOVED, "A/RES/70/175") in runs and (Mark.ADDED, "A/RES/70/176") in runs
    assert (Mark.SAME, "国連総会決議 ") in runs


def test_the_html_report_shows_the_chinese_change_and_escapes_the_text():
    heading = ("主题", "布鲁塞尔", "2020年3月31日", "此致")
    old = Proof("zh-Hans-0000000000", "zh-Hans", *heading, ("立即释放<他>。",), (), ())
    new = Proof("zh-Hans-1111111111", "zh-Hans", *heading, ("立刻释放<他>。",), (), ())
    report = change_report_html(old, new)
    assert "立<del>即</del><ins>刻</ins>释放&lt;他&gt;。" in report
    assert Change("paragraph 1", "a", None).runs() == [(Mark.REMOVED, "a")]
