"""Names, order and printed abbreviations of what a snapshot only names by code.

A records snapshot carries subject codes (``toan``, ``ngu_van``) and canonical cell codes
(``D``, ``CD``), not the curriculum it was computed with. Until it does, the printed names come
from the default 2018-programme catalogue of records (``records.rules.catalogue``) and the legacy
(TT 58) one, copied here because archive does not import another service; a code a Sở added to
its curriculum prints as its code. The quality and competency names are TT 27's (DOMAIN §2.4).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class SubjectName:
    name_vi: str
    short_vi: str  # column header of the class books, explained in their legend


_PRIMARY: Final = {
    "tieng_viet": SubjectName("Tiếng Việt", "TV"),
    "toan": SubjectName("Toán", "Toán"),
    "ngoai_ngu_1": SubjectName("Ngoại ngữ 1", "NN1"),
    "dao_duc": SubjectName("Đạo đức", "ĐĐ"),
    "tnxh": SubjectName("Tự nhiên và Xã hội", "TNXH"),
    "ls_dl": SubjectName("Lịch sử và Địa lí", "LS&ĐL"),
    "khoa_hoc": SubjectName("Khoa học", "KH"),
    "tin_hoc_cong_nghe": SubjectName("Tin học và Công nghệ", "TH&CN"),
    "gdtc": SubjectName("Giáo dục thể chất", "GDTC"),
    "am_nhac": SubjectName("Nghệ thuật (Âm nhạc)", "ÂN"),
    "mi_thuat": SubjectName("Nghệ thuật (Mĩ thuật)", "MT"),
    "hdtn": SubjectName("Hoạt động trải nghiệm", "HĐTN"),
}
_SECONDARY_2018: Final = {
    "ngu_van": SubjectName("Ngữ văn", "Văn"),
    "toan": SubjectName("Toán", "Toán"),
    "ngoai_ngu_1": SubjectName("Ngoại ngữ 1", "NN1"),
    "gdcd": SubjectName("Giáo dục công dân", "GDCD"),
    "ls_dl": SubjectName("Lịch sử và Địa lí", "LS&ĐL"),
    "khtn": SubjectName("Khoa học tự nhiên", "KHTN"),
    "lich_su": SubjectName("Lịch sử", "Sử"),
    "gdqp_an": SubjectName("Giáo dục quốc phòng và an ninh", "QP-AN"),
    "vat_li": SubjectName("Vật lí", "Lí"),
    "hoa_hoc": SubjectName("Hóa học", "Hóa"),
    "sinh_hoc": SubjectName("Sinh học", "Sinh"),
    "cong_nghe": SubjectName("Công nghệ", "CN"),
    "tin_hoc": SubjectName("Tin học", "Tin"),
    "gdtc": SubjectName("Giáo dục thể chất", "GDTC"),
    "nghe_thuat": SubjectName("Nghệ thuật", "NT"),
    "hdtn_hn": SubjectName("Hoạt động trải nghiệm, hướng nghiệp", "HĐTN"),
    "gddp": SubjectName("Nội dung giáo dục của địa phương", "GDĐP"),
}
_LEGACY: Final = {
    "toan": SubjectName("Toán", "Toán"),
    "vat_li": SubjectName("Vật lí", "Lí"),
    "hoa_hoc": SubjectName("Hóa học", "Hóa"),
    "sinh_hoc": SubjectName("Sinh học", "Sinh"),
    "ngu_van": SubjectName("Ngữ văn", "Văn"),
    "lich_su": SubjectName("Lịch sử", "Sử"),
    "dia_li": SubjectName("Địa lí", "Địa"),
    "ngoai_ngu_1": SubjectName("Ngoại ngữ", "NN"),
    "gdcd": SubjectName("Giáo dục công dân", "GDCD"),
    "cong_nghe": SubjectName("Công nghệ", "CN"),
    "tin_hoc": SubjectName("Tin học", "Tin"),
    "gdqp_an": SubjectName("Giáo dục quốc phòng - an ninh", "QP-AN"),
    "the_duc": SubjectName("Thể dục", "TD"),
    "am_nhac": SubjectName("Âm nhạc", "ÂN"),
    "mi_thuat": SubjectName("Mĩ thuật", "MT"),
}
_BY_RULE_SET: Final = {"tt27_2020": _PRIMARY, "tt22_2021": _SECONDARY_2018, "tt58_2011": _LEGACY}

# TT 27 (DOMAIN §2.4): 5 qualities, 3 general and 7 specific competencies, as records codes them.
QUALITIES: Final = (
    ("yeu_nuoc", "Yêu nước"),
    ("nhan_ai", "Nhân ái"),
    ("cham_chi", "Chăm chỉ"),
    ("trung_thuc", "Trung thực"),
    ("trach_nhiem", "Trách nhiệm"),
)
GENERAL_COMPETENCIES: Final = (
    ("tu_chu_tu_hoc", "Tự chủ và tự học"),
    ("giao_tiep_hop_tac", "Giao tiếp và hợp tác"),
    ("giai_quyet_van_de", "Giải quyết vấn đề và sáng tạo"),
)
SPECIFIC_COMPETENCIES: Final = (
    ("ngon_ngu", "Ngôn ngữ"),
    ("tinh_toan", "Tính toán"),
    ("khoa_hoc", "Khoa học"),
    ("cong_nghe", "Công nghệ"),
    ("tin_hoc", "Tin học"),
    ("tham_mi", "Thẩm mĩ"),
    ("the_chat", "Thể chất"),
)

# Canonical cell codes (records.domain.cells) as teachers write them on paper.
PASS_FAIL_SHORT: Final = {"D": "Đ", "CD": "CĐ"}
PASS_FAIL_LABELS: Final = {"D": "Đạt", "CD": "Chưa đạt"}
LEVEL_SHORT: Final = {"T": "T", "K": "K", "D": "Đ", "CD": "CĐ"}  # TT 22 rèn luyện / học tập
QUALITY_LABELS: Final = {"T": "Tốt", "D": "Đạt", "C": "Cần cố gắng"}
QUALITY_SHORT: Final = {"T": "T", "D": "Đ", "C": "C"}
SUBJECT_LEVEL_SHORT: Final = {"T": "T", "H": "H", "C": "C"}  # TT 27 mức đạt được
GENDER_LABELS: Final = {"male": "Nam", "female": "Nữ"}


def subject_name(rule_set: str | None, code: str) -> SubjectName:
    """The printed name of a subject code under a rule set; the code itself when unknown."""
    return _BY_RULE_SET.get(rule_set or "", {}).get(code, SubjectName(code, code))


def subject_order(rule_set: str | None, codes: set[str]) -> list[str]:
    """``codes`` in the catalogue's order, codes it does not know after them, by code."""
    known = list(_BY_RULE_SET.get(rule_set or "", {}))
    return [c for c in known if c in codes] + sorted(codes - set(known))


RULE_SET_TITLES: Final = {
    "tt22_2021": "Thông tư 22/2021/TT-BGDĐT",
    "tt27_2020": "Thông tư 27/2020/TT-BGDĐT",
    "tt58_2011": "Thông tư 58/2011/TT-BGDĐT, sửa đổi bởi Thông tư 26/2020/TT-BGDĐT",
}


def rule_set_title(rule_set: str | None, version: str | None) -> str:
    if rule_set is None:
        return ""
    title = RULE_SET_TITLES.get(rule_set, rule_set)
    return f"{title} (bộ quy tắc {rule_set}, phiên bản {version})" if version else title
