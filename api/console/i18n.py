"""The console's words in English and Korean (issue 12 item 4).

Every fixed text of a page is a key of :data:`MESSAGES`; names, sites and lot ids are shown as
registered, in whatever script they were registered in. The language is the ``ltl_lang``
cookie (set by the switch, ``GET /console/lang/{en|ko}``), else the first language of
``Accept-Language`` we speak, else English.
"""

from __future__ import annotations

from collections.abc import Callable

from ledger.attest.render import CATEGORY_LABELS

__all__ = [
    "LANGUAGES",
    "LANG_COOKIE",
    "MESSAGES",
    "VALUE_LABELS",
    "choose_language",
    "translator",
    "value_labeler",
]

LANG_COOKIE = "ltl_lang"
#: code -> the language's own name (the switch shows each in its own language)
LANGUAGES = {"en": "English", "ko": "한국어"}

MESSAGES: dict[str, tuple[str, str]] = {
    "console": ("Lot traceability ledger", "로트 추적 원장"),
    "skip": ("Skip to content", "본문으로 건너뛰기"),
    "nav": ("Console", "콘솔"),
    "language": ("Language", "언어"),
    "overview": ("Overview", "개요"),
    "lots": ("Lots", "로트"),
    "parties": ("Parties", "참여자"),
    "certificates": ("Certificates", "인증서"),
    "sign_in": ("Sign in", "로그인"),
    "sign_out": ("Sign out", "로그아웃"),
    "signed_in_as": ("Signed in as", "로그인 계정"),
    "token": ("API token", "API 토큰"),
    "token_help": (
        "The token your operator gave you (ledger token create). It is never shown again.",
        "운영자가 발급한 토큰 (ledger token create). 다시 표시되지 않습니다.",
    ),
    "bad_token": ("Unknown or revoked token.", "알 수 없거나 폐기된 토큰입니다."),
    "too_many": (
        "Too many failed sign-ins: wait a minute.",
        "로그인 실패가 너무 많습니다. 1분 후 다시 시도하십시오.",
    ),
    "role": ("Role", "역할"),
    "party": ("Party", "참여자"),
    "log": ("Log", "로그"),
    "log_size": ("Log size", "로그 크기"),
    "entries": ("entries", "항목"),
    "checkpoint": ("Latest checkpoint", "최신 체크포인트"),
    "checkpoint_size": ("Checkpoint size", "체크포인트 크기"),
    "cosigned_size": ("Cosigned by the witness quorum up to size", "증인 정족수 공동서명 크기"),
    "witnesses": ("Witnesses", "증인"),
    "witness": ("Witness", "증인"),
    "no_witnesses": (
        "This log has no witnesses configured: its checkpoints carry the log's signature only.",
        "이 로그에는 증인이 설정되어 있지 않습니다. 체크포인트에는 로그 서명만 있습니다.",
    ),
    "signatures": ("Signatures on this checkpoint", "이 체크포인트의 서명"),
    "last_size": ("Last cosigned size", "마지막 공동서명 크기"),
    "last_ok": ("Last cosigned", "마지막 공동서명 시각"),
    "error": ("Error", "오류"),
    "recent": ("Recent events", "최근 이벤트"),
    "recent_help": (
        "The newest events you may see, newest first.",
        "볼 수 있는 최신 이벤트 (최신순).",
    ),
    "none": ("None.", "없음."),
    "seq": ("Log index", "로그 인덱스"),
    "type": ("Type", "유형"),
    "actor": ("Party", "참여자"),
    "country": ("Country", "국가"),
    "site": ("Site", "사업장"),
    "time": ("Time", "시각"),
    "mass": ("Mass (kg)", "질량 (kg)"),
    "kid": ("Key id", "키 ID"),
    "signed_json": ("signed JSON and inclusion proof", "서명된 JSON 및 포함 증명"),
    "lot": ("Lot", "로트"),
    "lot_id": ("Lot id", "로트 ID"),
    "search": ("Search", "검색"),
    "search_id": ("Lot id starts with", "로트 ID 시작 문자열"),
    "status": ("Status", "상태"),
    "any": ("any", "전체"),
    "custodian": ("Custodian", "보관자"),
    "material": ("Material", "소재"),
    "apply": ("Apply", "적용"),
    "next_page": ("Next page", "다음 페이지"),
    "first_page": ("First page", "첫 페이지"),
    "no_lots": ("No lot matches.", "조건에 맞는 로트가 없습니다."),
    "source": ("Source", "원천"),
    "timeline": ("Custody timeline", "관리 이력"),
    "provenance": ("Provenance", "원산지 이력"),
    "provenance_help": (
        "Upstream lots as you may see them; arrows carry mass, wider is heavier.",
        "볼 수 있는 상류 로트. 화살표 굵기는 질량에 비례합니다.",
    ),
    "shares": ("Recycled content", "재활용 함량"),
    "by_mass": ("By mass", "질량 기준"),
    "element": ("Element", "원소"),
    "recycled": ("Recycled", "재활용"),
    "compliance": ("Compliance", "규정 준수"),
    "scheme": ("Scheme", "제도"),
    "rule": ("Rule", "규칙"),
    "result": ("Result", "결과"),
    "reason": ("Reason", "사유"),
    "no_compliance": (
        "No compliance rule applies to this material.",
        "이 소재에 적용되는 규칙이 없습니다.",
    ),
    "lot_certificates": ("Certificates of this lot", "이 로트의 인증서"),
    "issued_at": ("Issued", "발급"),
    "open": ("open", "열기"),
    "issue": ("Issue a certificate", "인증서 발급"),
    "issue_help": (
        "Signs a recycled-content certificate (W3C Verifiable Credential) of the lot as the "
        "ledger shows it now.",
        "현재 원장 기준으로 로트의 재활용 함량 인증서(W3C 검증 가능 자격증명)에 서명합니다.",
    ),
    "issue_button": ("Issue certificate", "인증서 발급"),
    "issue_refused": ("The certificate was not issued", "인증서가 발급되지 않았습니다"),
    "keys": ("Keys and their history", "키 및 이력"),
    "added": ("Added at log index", "추가 로그 인덱스"),
    "revoked": ("Revoked at log index", "폐기 로그 인덱스"),
    "compromised": ("Compromised since", "손상 시점"),
    "active": ("active", "유효"),
    "roles": ("Roles", "역할"),
    "feoc": ("Foreign entity of concern", "우려 외국 기관"),
    "yes": ("yes", "예"),
    "no": ("no", "아니오"),
    "name": ("Name", "이름"),
    "verify": ("Verify in this browser", "이 브라우저에서 검증"),
    "verify_help": (
        "Downloads this lot's audit bundle and checks it here, in JavaScript: every signature "
        "(Ed25519), the canonical JSON (RFC 8785), every inclusion proof (RFC 9162) and the "
        "checkpoint signature against the log key you give — never one taken from this server.",
        "이 로트의 감사 번들을 내려받아 이 브라우저에서 JavaScript로 검증합니다: "
        "모든 서명(Ed25519), 정규 JSON(RFC 8785), 포함 증명(RFC 9162), "
        "그리고 입력한 로그 키로 체크포인트 서명을 확인합니다. "
        "이 서버가 제공하는 키는 사용하지 않습니다.",
    ),
    "log_vkey": (
        "Log verifier key (C2SP vkey), one per line",
        "로그 검증 키 (C2SP vkey), 줄마다 하나",
    ),
    "pin_key": ("Remember this key in this browser", "이 브라우저에 키 기억"),
    "forget_key": ("Forget the remembered key", "기억된 키 삭제"),
    "pinned": (
        "Using the key remembered in this browser.",
        "이 브라우저에 기억된 키를 사용합니다.",
    ),
    "verify_button": ("Verify", "검증"),
    "VALID": ("VALID", "유효"),
    "INVALID": ("INVALID", "무효"),
    "ERROR": ("ERROR", "오류"),
    "bad_key": ("This line is not a C2SP verifier key", "이 줄은 C2SP 검증 키가 아닙니다"),
    "no_key": ("Paste the log key first.", "먼저 로그 키를 붙여 넣으십시오."),
    "checked": ("entries checked", "개 항목 검증됨"),
    "entry": ("entry", "항목"),
    "event": ("event", "이벤트"),
    "warning": ("warning", "경고"),
    "verifying": ("Verifying…", "검증 중…"),
    "not_found": ("Not found", "찾을 수 없음"),
    "not_found_help": (
        "There is no such lot, or your token may not see it.",
        "해당 로트가 없거나 이 토큰으로 볼 수 없습니다.",
    ),
    "back": ("Back to the lots", "로트 목록으로"),
    "kg": ("kg", "kg"),
    "api_json": ("the same as JSON", "같은 내용 (JSON)"),
    "offline": ("Verify offline", "오프라인 검증"),
    "check": ("Check", "검증"),
    "minimum": ("Minimum", "최소 기준"),
    # the in-browser verifier's words (api/static/console/verify-page.js fills the {names})
    "v.valid": ("VALID", "유효 (VALID)"),
    "v.invalid": ("INVALID", "무효 (INVALID)"),
    "v.error": ("ERROR", "오류 (ERROR)"),
    "v.http": ("(HTTP {status})", "(HTTP {status})"),
    "v.verifying": ("Verifying…", "검증 중…"),
    "v.no-key": (
        "Paste the log's verifier key (vkey) first.",
        "먼저 로그 검증 키(vkey)를 붙여 넣으십시오.",
    ),
    "v.bad-key": (
        "Line {line} of the log key is not a valid vkey: {reason}",
        "로그 키 {line}번째 줄은 올바른 vkey가 아닙니다: {reason}",
    ),
    "v.pinned": (
        "This key was pinned in this browser earlier.",
        "이 키는 이전에 이 브라우저에 저장되었습니다.",
    ),
    "v.saved": ("The key is now pinned in this browser.", "키를 이 브라우저에 저장했습니다."),
    "v.forgotten": (
        "The pinned key was removed from this browser.",
        "저장된 키를 이 브라우저에서 삭제했습니다.",
    ),
    "v.checked": (
        "Lot {lot}: {total} entries checked, {passed} passed, against checkpoint {origin} "
        "(size {size}, root {root}…).",
        "로트 {lot}: 항목 {total}개 검증, {passed}개 통과 — 체크포인트 {origin} "
        "(크기 {size}, 루트 {root}…) 기준.",
    ),
    "v.unchecked": (
        "Lot {lot}: {total} entries, none checked: the bundle or its checkpoint did not verify.",
        "로트 {lot}: 항목 {total}개, 검증되지 않음 — 번들 또는 체크포인트 검증 실패.",
    ),
    "v.entry": ("entry seq {seq} (event {event}…)", "항목 seq {seq} (이벤트 {event}…)"),
    "v.entry-at": ("entry #{position}", "항목 #{position}"),
    "v.bundle": ("bundle", "번들"),
    "v.warning": ("warning", "경고"),
    "v.entry-ok": ("✓", "✓"),
    "v.entry-failed": ("✗", "✗"),
    "v.entry-unchecked": ("–", "–"),
    "v.network": (
        "The bundle could not be fetched: {reason}",
        "번들을 가져올 수 없습니다: {reason}",
    ),
    "v.not-json": (
        "The server's answer is not a JSON bundle.",
        "서버 응답이 JSON 번들이 아닙니다.",
    ),
    "v.lot-mismatch": (
        "The bundle is for lot {bundle}, not for this page's lot {lot}.",
        "번들은 로트 {bundle}의 것이며 이 페이지의 로트 {lot}가 아닙니다.",
    ),
    "v.crashed": ("The verifier stopped: {reason}", "검증기가 중단되었습니다: {reason}"),
    "v.no-crypto": (
        "This browser offers no Web Cryptography here (the page must be served over HTTPS): "
        "nothing was verified.",
        "이 브라우저에서는 Web Cryptography를 사용할 수 없습니다 (HTTPS로 제공되어야 함): "
        "아무것도 검증되지 않았습니다.",
    ),
}
#: the words for the values of the ledger's own vocabularies (lot status, party role, a
#: compliance result, a certificate's status): ``value_labeler`` shows them; the value itself
#: stays in the page for machines (``data-*`` attributes, links, the JSON API)
VALUE_LABELS: dict[str, dict[str, tuple[str, str]]] = {
    "status": {
        "held": ("held", "보유 중"),
        "in_transit": ("in transit", "운송 중"),
        "consumed": ("consumed", "소진됨"),
    },
    "role": {
        "operator": ("operator", "운영자"),
        "producer": ("producer", "생산자"),
        "recycler": ("recycler", "재활용업체"),
        "processor": ("processor", "가공업체"),
        "manufacturer": ("manufacturer", "제조업체"),
        "carrier": ("carrier", "운송업체"),
        "lab": ("lab", "시험기관"),
        "auditor": ("auditor", "감사인"),
    },
    "result": {
        "pass": ("pass", "충족"),
        "fail": ("fail", "미충족"),
        "n/a": ("n/a", "해당 없음"),
    },
    "certificate": {
        "valid": ("valid", "유효"),
        "superseded": ("superseded", "대체됨"),
        "revoked": ("revoked", "폐기됨"),
    },
}


def value_labeler(lang: str) -> Callable[[str, object], str]:
    """``tv(kind, value)``: the word for ``value`` of vocabulary ``kind`` in ``lang``; a value
    the vocabulary does not know (a newer server's) is shown as it is."""
    index = 1 if lang == "ko" else 0

    def tv(kind: str, value: object) -> str:
        words = VALUE_LABELS[kind].get(str(value))
        return str(value) if words is None else words[index]

    return tv


#: the ``data-label-*`` attributes of the lot page's verifier section
VERIFY_LABELS = tuple(k.removeprefix("v.") for k in MESSAGES if k.startswith("v."))
for _key, _en, _ko in CATEGORY_LABELS:
    MESSAGES.setdefault(f"cat.{_key}", (_en, _ko))


def choose_language(cookie: str | None, accept: str | None) -> str:
    """``en`` or ``ko``: the cookie, else the first of ``Accept-Language`` we speak, else en."""
    if cookie in LANGUAGES:
        return str(cookie)
    for part in (accept or "").split(","):
        tag = part.split(";")[0].strip().lower()
        primary = tag.split("-")[0]
        if primary in LANGUAGES:
            return primary
    return "en"


def translator(lang: str) -> Callable[[str], str]:
    """``t(key)``: the message in ``lang`` (a missing key is a bug: KeyError)."""
    index = 1 if lang == "ko" else 0
    return lambda key: MESSAGES[key][index]
