//! Every text a client can read in an error, in Vietnamese and English.
//!
//! A refusal carries a [`Message`]: a template of this catalogue and the values to put in it. It
//! is rendered at the edge, in the language of the request (`Accept-Language`, else Vietnamese,
//! as labels are); logs, the audit trail and the command line read it in English. Translators
//! work on this one file, and a test checks that both languages of a template take the same
//! values.

use std::fmt;

/// A language answers are given in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Lang {
    #[default]
    Vi,
    En,
}

impl Lang {
    /// The supported language the client prefers most, by the header's quality values.
    pub fn from_accept_language(header: &str) -> Option<Self> {
        let mut best: Option<(f32, Self)> = None;
        for range in header.split(',') {
            let mut parts = range.split(';');
            let tag = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
            let quality = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            let lang = match tag.split('-').next() {
                Some("vi") => Self::Vi,
                Some("en") => Self::En,
                _ => continue,
            };
            if quality > 0.0 && best.is_none_or(|(q, _)| quality > q) {
                best = Some((quality, lang));
            }
        }
        best.map(|(_, lang)| lang)
    }

    pub fn pick<'a>(self, vi: &'a str, en: &'a str) -> &'a str {
        match self {
            Self::Vi => vi,
            Self::En => en,
        }
    }
}

/// One text of the catalogue; `{name}` marks where a value goes.
#[derive(Debug, PartialEq, Eq)]
pub struct Template {
    pub key: &'static str,
    pub vi: &'static str,
    pub en: &'static str,
}

/// A value put in a template: text as given, or a word of [`WORDS`] said in the message's
/// language.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Arg {
    Text(String),
    Word(&'static str),
}

/// A template with its values, rendered in whichever language is asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    template: &'static Template,
    args: Vec<(&'static str, Arg)>,
}

impl Message {
    pub fn new(template: &'static Template) -> Self {
        Self {
            template,
            args: Vec::new(),
        }
    }

    pub fn with(mut self, name: &'static str, value: impl fmt::Display) -> Self {
        self.args.push((name, Arg::Text(value.to_string())));
        self
    }

    /// Puts a word of [`WORDS`] (an entity's name, a permission) in the message's language.
    pub fn with_word(mut self, name: &'static str, english: &'static str) -> Self {
        self.args.push((name, Arg::Word(english)));
        self
    }

    pub fn render(&self, lang: Lang) -> String {
        let text = lang.pick(self.template.vi, self.template.en);
        let mut out = String::with_capacity(text.len() + 32);
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            let Some(close) = after.find('}') else {
                break;
            };
            let name = &after[..close];
            match self.args.iter().find(|(arg, _)| *arg == name) {
                Some((_, Arg::Text(value))) => out.push_str(value),
                Some((_, Arg::Word(word))) => out.push_str(word_in(word, lang)),
                None => out.push_str(&rest[open..open + close + 2]),
            }
            rest = &after[close + 1..];
        }
        out.push_str(rest);
        out
    }
}

/// English, for logs, the audit trail and the command line.
impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(Lang::En))
    }
}

/// A message of the catalogue: `message!(NAME)` or `message!(NAME, value = expr, ...)`.
#[macro_export]
macro_rules! message {
    ($name:ident $(, $arg:ident = $value:expr)* $(,)?) => {
        $crate::messages::Message::new(&$crate::messages::catalogue::$name)
            $(.with(stringify!($arg), $value))*
    };
}

/// Words put in messages, English then Vietnamese.
pub const WORDS: &[(&str, &str)] = &[
    // Entities and what identifies them.
    ("metric", "chỉ số"),
    ("agency", "cơ quan"),
    ("observation", "số liệu"),
    ("platform", "nền tảng"),
    ("source", "nguồn"),
    ("key", "khóa"),
    ("target", "mục tiêu"),
    ("indicator", "chỉ tiêu tổng hợp"),
    ("scored index", "bộ chỉ số đánh giá"),
    ("code", "mã"),
    ("id", "mã định danh"),
    ("prefix", "tiền tố"),
    // What a permission allows.
    ("read", "đọc dữ liệu"),
    ("record figures", "ghi số liệu"),
    ("correct or retract figures", "sửa hoặc rút lại số liệu"),
    (
        "read history or the audit log",
        "đọc lịch sử hoặc nhật ký kiểm toán",
    ),
    ("manage keys", "quản lý khóa"),
    (
        "define indicators, indices and DHIS2 identifiers",
        "định nghĩa chỉ tiêu tổng hợp, bộ chỉ số và mã định danh DHIS2",
    ),
    // Why a key is refused.
    ("malformed", "sai định dạng"),
    ("unknown", "không tồn tại"),
    ("revoked", "đã bị thu hồi"),
    ("expired", "đã hết hạn"),
    ("active", "đang hiệu lực"),
];

fn word_in(english: &'static str, lang: Lang) -> &'static str {
    match lang {
        Lang::En => english,
        Lang::Vi => WORDS
            .iter()
            .find(|(en, _)| *en == english)
            .map_or(english, |(_, vi)| vi),
    }
}

macro_rules! catalogue {
    ($( $name:ident { en: $en:literal, vi: $vi:literal $(,)? } )*) => {
        $(
            pub static $name: Template = Template { key: stringify!($name), vi: $vi, en: $en };
        )*
        /// Every template, for the test that checks them.
        #[cfg(test)]
        pub static ALL: &[&Template] = &[$(&$name),*];
    };
}

pub mod catalogue {
    use super::Template;

    catalogue! {
        // Lookups.
        NOT_FOUND {
            en: "no {entity} has the {key} `{value}`",
            vi: "không có {entity} nào có {key} `{value}`",
        }
        NOT_AN_OBSERVATION_ID {
            en: "`{id}` is not an observation id",
            vi: "`{id}` không phải mã định danh của một số liệu",
        }

        // Keys and permissions.
        KEY_REQUIRED {
            en: "an API key is required: send `Authorization: Bearer <key>`",
            vi: "cần có khóa API: hãy gửi `Authorization: Bearer <key>`",
        }
        KEY_AS_BEARER {
            en: "send the key as `Authorization: Bearer <key>`",
            vi: "hãy gửi khóa dưới dạng `Authorization: Bearer <key>`",
        }
        KEY_REFUSED {
            en: "the API key is {why}",
            vi: "khóa API {why}",
        }
        ROLE_MAY_NOT {
            en: "a {role} key may not {action}",
            vi: "khóa có vai trò {role} không được phép {action}",
        }
        OWN_AGENCY_ONLY {
            en: "the key `{key}` records only for its own agency",
            vi: "khóa `{key}` chỉ được ghi số liệu cho cơ quan của mình",
        }
        OWN_PLATFORM_ONLY {
            en: "the key `{key}` records only for its own platform",
            vi: "khóa `{key}` chỉ được ghi số liệu cho nền tảng của mình",
        }
        KEY_NAME_LENGTH {
            en: "give the key a name of 1 to 100 characters",
            vi: "hãy đặt cho khóa một tên dài từ 1 đến 100 ký tự",
        }
        KEY_NAME_RESERVED {
            en: "`{name}` is how the audit log names callers without a key; choose another name",
            vi: "`{name}` là tên nhật ký kiểm toán dùng cho người gọi không có khóa; hãy chọn tên khác",
        }
        EXPIRY_IN_PAST {
            en: "the expiry must lie in the future",
            vi: "thời điểm hết hạn phải ở trong tương lai",
        }
        SCOPE_ONLY_FOR_REPORTERS {
            en: "only reporter keys are scoped to an agency or platform",
            vi: "chỉ khóa có vai trò reporter mới được giới hạn theo cơ quan hoặc nền tảng",
        }
        RATE_LIMITED {
            en: "too many requests: try again in {seconds} s",
            vi: "quá nhiều yêu cầu: hãy thử lại sau {seconds} giây",
        }
        KEYS_REFUSED_LIMITED {
            en: "too many refused keys from this address: try again in {seconds} s",
            vi: "địa chỉ này đã gửi quá nhiều khóa bị từ chối: hãy thử lại sau {seconds} giây",
        }

        // Pages.
        NOT_A_CURSOR {
            en: "not a cursor returned by this API",
            vi: "không phải con trỏ do API này trả về",
        }
        FIRST_OR_LAST {
            en: "give either `first` (with `after`) or `last` (with `before`), not both",
            vi: "hãy dùng `first` (với `after`) hoặc `last` (với `before`), không dùng cả hai",
        }
        PAGE_DIRECTION {
            en: "page forwards with `first` and `after`, backwards with `last` and `before`",
            vi: "lật trang tới bằng `first` và `after`, lùi lại bằng `last` và `before`",
        }
        AFTER_OR_BEFORE {
            en: "give either `after` or `before`, not both",
            vi: "hãy dùng `after` hoặc `before`, không dùng cả hai",
        }
        PAGE_SIZE_NEGATIVE {
            en: "must not be negative (got {size})",
            vi: "không được là số âm (nhận được {size})",
        }
        PAGE_SIZE_TOO_LARGE {
            en: "at most {max} items per page (got {size})",
            vi: "tối đa {max} mục mỗi trang (nhận được {size})",
        }

        // Numbers and dates.
        NOT_A_DECIMAL {
            en: "`{text}` is not a decimal number: write digits with an optional sign and decimal point (3700000, 0.25)",
            vi: "`{text}` không phải số thập phân: hãy viết các chữ số, có thể kèm dấu và dấu chấm thập phân (3700000, 0.25)",
        }
        DECIMAL_TOO_LONG {
            en: "`{text}` has more digits than can be kept exactly",
            vi: "`{text}` có nhiều chữ số hơn mức có thể lưu chính xác",
        }
        FRACTIONS_AS_STRINGS {
            en: "send fractional values as strings (\"0.25\") to keep them exact",
            vi: "hãy gửi giá trị có phần thập phân dưới dạng chuỗi (\"0.25\") để giữ chính xác",
        }
        TOO_MANY_DECIMAL_PLACES {
            en: "{value} has more than {max} decimal places",
            vi: "{value} có hơn {max} chữ số thập phân",
        }
        TOO_MANY_SIGNIFICANT_DIGITS {
            en: "{value} has more than {max} significant digits",
            vi: "{value} có hơn {max} chữ số có nghĩa",
        }
        UNKNOWN_TIME_ZONE {
            en: "`{name}` is not an IANA time zone name such as Asia/Ho_Chi_Minh",
            vi: "`{name}` không phải tên múi giờ IANA, chẳng hạn Asia/Ho_Chi_Minh",
        }
        NOT_AN_INSTANT {
            en: "`{text}` is not an RFC 3339 instant such as 2021-06-30T00:00:00Z",
            vi: "`{text}` không phải thời điểm RFC 3339, chẳng hạn 2021-06-30T00:00:00Z",
        }
        NOT_AN_INSTANT_OR_DAY {
            en: "`{text}` is neither an RFC 3339 instant nor a YYYY-MM-DD day",
            vi: "`{text}` không phải thời điểm RFC 3339 cũng không phải ngày dạng YYYY-MM-DD",
        }
        NOT_A_DAY {
            en: "`{text}` is not a day written YYYY-MM-DD",
            vi: "`{text}` không phải ngày viết dạng YYYY-MM-DD",
        }
        LEAP_SECOND {
            en: "{instant} is a leap second, which the databases cannot keep",
            vi: "{instant} là giây nhuận, cơ sở dữ liệu không lưu được",
        }
        FINER_THAN_MICROSECOND {
            en: "{instant} has digits finer than a microsecond, which the databases cannot keep",
            vi: "{instant} có phần lẻ nhỏ hơn một micro giây, cơ sở dữ liệu không lưu được",
        }
        OUTSIDE_YEARS {
            en: "{instant} is outside the years 1 to 9999 (UTC), which both databases write alike",
            vi: "{instant} nằm ngoài các năm 1 đến 9999 (UTC), khoảng mà cả hai cơ sở dữ liệu ghi như nhau",
        }
        OUTSIDE_CALENDAR {
            en: "{date} is outside the calendar served, {earliest} to {latest}",
            vi: "{date} nằm ngoài lịch được phục vụ, từ {earliest} đến {latest}",
        }
        YEAR_UNDATABLE {
            en: "{year} is not a year we can date",
            vi: "{year} không phải năm có thể xác định ngày",
        }

        // Indicators.
        CODE_FORMAT {
            en: "`{code}` is not a code: 1 to 128 lowercase letters, digits, dots and hyphens, starting with a letter or digit",
            vi: "`{code}` không phải mã hợp lệ: 1 đến 128 chữ thường, chữ số, dấu chấm và gạch nối, bắt đầu bằng chữ hoặc số",
        }
        TEXT_REQUIRED {
            en: "may not be empty",
            vi: "không được để trống",
        }
        DEFINITION_EXISTS {
            en: "`{code}` is already defined: a new definition is a new version of it",
            vi: "`{code}` đã được định nghĩa: định nghĩa mới là một phiên bản mới của nó",
        }
        COMPONENT_COUNT {
            en: "an index has 1 to {max} components",
            vi: "một bộ chỉ số có từ 1 đến {max} thành phần",
        }
        COMPONENT_TWICE {
            en: "the component `{code}` is named twice",
            vi: "thành phần `{code}` được nêu hai lần",
        }
        POINTS_NOT_POSITIVE {
            en: "the component `{code}` must give more than 0 points",
            vi: "thành phần `{code}` phải cho nhiều hơn 0 điểm",
        }
        SCALE_WITHOUT_LENGTH {
            en: "the component `{code}` scores from and to the same value",
            vi: "thành phần `{code}` chấm điểm từ và đến cùng một giá trị",
        }
        NO_VERSION_FOR_PERIOD {
            en: "no version of `{code}` applies to the period starting {day}",
            vi: "không có phiên bản nào của `{code}` áp dụng cho kỳ bắt đầu {day}",
        }
        INPUTS_MISSING {
            en: "from {from} to {to}, these inputs have no value: {metrics}",
            vi: "từ {from} đến {to}, các đầu vào sau không có giá trị: {metrics}",
        }
        INDICATOR_UNDEFINED {
            en: "from {from} to {to}, the indicator's formula has no value (a zero denominator, or a result too large to keep)",
            vi: "từ {from} đến {to}, công thức của chỉ tiêu không có giá trị (mẫu số bằng 0, hoặc kết quả quá lớn để lưu)",
        }
        NOT_SCORED {
            en: "`{agency}` is not one of the units `{code}` scores in the period",
            vi: "`{agency}` không thuộc các đơn vị được `{code}` chấm điểm trong kỳ",
        }
        DEFINITION_VERSION_UNKNOWN {
            en: "`{code}` has no version {version}",
            vi: "`{code}` không có phiên bản {version}",
        }
        VERSION_NOT_AFTER {
            en: "a new version must start after {first}, the first day of version {version}; {valid_from} is not after it",
            vi: "phiên bản mới phải bắt đầu sau {first}, ngày đầu của phiên bản {version}; {valid_from} không sau ngày đó",
        }
        FORMULA_TOO_LARGE {
            en: "the formula has {terms} terms nested {depth} deep; at most {max_terms} terms nested {max_depth} deep are allowed",
            vi: "công thức có {terms} số hạng lồng sâu {depth} mức; chỉ cho phép tối đa {max_terms} số hạng lồng sâu {max_depth} mức",
        }
        FORMULA_EMPTY_SUM {
            en: "a sum in the formula needs at least one term",
            vi: "một tổng trong công thức cần ít nhất một số hạng",
        }
        FORMULA_WITHOUT_METRIC {
            en: "the formula names no metric: an indicator is computed from metrics",
            vi: "công thức không nêu chỉ số nào: chỉ tiêu tổng hợp được tính từ các chỉ số",
        }

        // DHIS2.
        DHIS2_UID_FORMAT {
            en: "`{uid}` is not a DHIS2 identifier: 11 letters and digits, starting with a letter",
            vi: "`{uid}` không phải mã định danh DHIS2: 11 chữ cái và chữ số, bắt đầu bằng chữ cái",
        }
        DHIS2_NO_DENOMINATOR {
            en: "{metric} is a ratio: a DHIS2 data value has no place for its denominator",
            vi: "{metric} là một tỷ số: giá trị dữ liệu DHIS2 không có chỗ cho mẫu số của nó",
        }
        DHIS2_IDENTIFIER_TAKEN {
            en: "the DHIS2 identifier `{uid}` already stands for `{code}`",
            vi: "mã định danh DHIS2 `{uid}` đã được dùng cho `{code}`",
        }
        DHIS2_UNIDENTIFIED {
            en: "{code} has no DHIS2 identifier: give it one first",
            vi: "{code} chưa có mã định danh DHIS2: hãy gán mã trước",
        }
        DHIS2_UNKNOWN_UID {
            en: "`{uid}` is not a DHIS2 identifier given to anything here",
            vi: "`{uid}` không phải mã định danh DHIS2 đã gán cho đối tượng nào ở đây",
        }
        DHIS2_PERIOD {
            en: "`{period}` is not a DHIS2 period (2025, 2025Q2, 202506, 2025W26, 20250615)",
            vi: "`{period}` không phải kỳ DHIS2 (2025, 2025Q2, 202506, 2025W26, 20250615)",
        }

        // Series and lists.
        RANGE_REVERSED {
            en: "{to} is before {from}: the range is reversed",
            vi: "{to} trước {from}: khoảng thời gian bị đảo ngược",
        }
        TOO_MANY_POINTS {
            en: "more than {max} points: choose a coarser bucket or a shorter range",
            vi: "hơn {max} điểm: hãy chọn khoảng gộp thô hơn hoặc khoảng thời gian ngắn hơn",
        }
        READING_SPANS_BUCKETS {
            en: "a reading of {metric} covers {from} to {to}, more than one {bucket} bucket: choose a coarser bucket",
            vi: "một số liệu của {metric} trải từ {from} đến {to}, dài hơn một khoảng gộp {bucket}: hãy chọn khoảng gộp thô hơn",
        }
        OBSERVED_RANGE_EMPTY {
            en: "the range is empty or reversed: {from} is not before {before}",
            vi: "khoảng thời gian rỗng hoặc bị đảo ngược: {from} không trước {before}",
        }

        // Recording.
        BATCH_EMPTY {
            en: "give at least one observation",
            vi: "hãy gửi ít nhất một số liệu",
        }
        BATCH_TOO_LARGE {
            en: "at most {max} observations per request; import larger sets as CSV",
            vi: "tối đa {max} số liệu mỗi yêu cầu; tập lớn hơn hãy nhập bằng tệp CSV",
        }
        INVALID_ITEMS {
            en: "{total} of the items are invalid; nothing was stored",
            vi: "{total} mục không hợp lệ; không có gì được lưu",
        }
        IDEMPOTENCY_KEY_LENGTH {
            en: "give 1 to {max} characters",
            vi: "hãy dùng từ 1 đến {max} ký tự",
        }
        IDEMPOTENCY_KEY_REUSED {
            en: "the idempotency key `{key}` was used for a different request",
            vi: "khóa chống ghi lặp `{key}` đã được dùng cho một yêu cầu khác",
        }
        VALUE_NEGATIVE {
            en: "{value} is negative; a {unit} figure cannot be",
            vi: "{value} là số âm; số liệu có đơn vị {unit} không thể âm",
        }
        NOT_WHOLE {
            en: "{value} is not a whole number of {unit}",
            vi: "{value} không phải số nguyên ({unit})",
        }
        PERCENT_OVER_100 {
            en: "{value}% is more than 100%",
            vi: "{value}% lớn hơn 100%",
        }
        RANK_BELOW_FIRST {
            en: "{value} is not a place in a ranking: the first place is 1",
            vi: "{value} không phải là một thứ hạng: thứ hạng cao nhất là 1",
        }
        RATIO_NEEDS_DENOMINATOR {
            en: "a ratio needs the total it is out of (106 of 200)",
            vi: "một tỷ lệ cần có tổng mà nó được tính trên đó (106 trên 200)",
        }
        DENOMINATOR_NOT_POSITIVE {
            en: "must be greater than zero",
            vi: "phải lớn hơn 0",
        }
        OVER_DENOMINATOR {
            en: "{value} is more than its denominator {denominator}",
            vi: "{value} lớn hơn mẫu số {denominator}",
        }
        DENOMINATOR_ONLY_FOR_RATIOS {
            en: "only ratio metrics have a denominator",
            vi: "chỉ chỉ số dạng tỷ lệ mới có mẫu số",
        }
        IN_THE_FUTURE {
            en: "{instant} is in the future",
            vi: "{instant} ở trong tương lai",
        }
        BEFORE_1990 {
            en: "{instant} is before 1990",
            vi: "{instant} trước năm 1990",
        }
        FLOW_NEEDS_PERIOD {
            en: "a flow needs the start of its period",
            vi: "chỉ số theo kỳ cần có thời điểm bắt đầu kỳ",
        }
        PERIOD_REVERSED {
            en: "the period must start before it ends (observedAt)",
            vi: "kỳ phải bắt đầu trước khi kết thúc (observedAt)",
        }
        PERIOD_ONLY_FOR_FLOWS {
            en: "only flows cover a period",
            vi: "chỉ chỉ số theo kỳ mới có kỳ",
        }
        QUOTE_REQUIRED {
            en: "quote the phrase of the source the value was read from",
            vi: "hãy trích câu trong nguồn mà giá trị được lấy ra",
        }
        TEXT_HAS_NUL {
            en: "contains the NUL character, which the database cannot store",
            vi: "chứa ký tự NUL, cơ sở dữ liệu không lưu được",
        }
        TEXT_TOO_LONG {
            en: "longer than {max} characters",
            vi: "dài hơn {max} ký tự",
        }
        COUNTER_DOWN_BEFORE {
            en: "the counter would go down: {value} was recorded for {at} (observation {id})",
            vi: "bộ đếm sẽ giảm: {value} đã được ghi cho {at} (số liệu {id})",
        }
        COUNTER_DOWN_AFTER {
            en: "the counter would go down afterwards: {value} was recorded for {at} (observation {id})",
            vi: "bộ đếm sẽ giảm ở sau: {value} đã được ghi cho {at} (số liệu {id})",
        }
        COUNTER_DOWN_IN_BATCH {
            en: "the counter would go down: item {item} records {value} for an earlier instant",
            vi: "bộ đếm sẽ giảm: mục {item} ghi {value} cho một thời điểm sớm hơn",
        }
        DUPLICATE_IN_BATCH {
            en: "item {item} already records this metric for this instant",
            vi: "mục {item} đã ghi chỉ số này cho thời điểm này",
        }
        AGENCY_NOT_IN_FORCE {
            en: "`{agency}` is not in force on {day}: record the figure for the unit of that day",
            vi: "`{agency}` không có hiệu lực vào ngày {day}: hãy ghi số liệu cho đơn vị hành chính của ngày đó",
        }
        NOT_COMPOSABLE {
            en: "{metric} is a percentage without denominators: the figures merged into `{unit}` cannot be combined; ask for AS_RECORDED boundaries",
            vi: "{metric} là tỷ lệ phần trăm không có mẫu số: không thể gộp số liệu của các đơn vị đã sáp nhập vào `{unit}`; hãy dùng ranh giới AS_RECORDED",
        }
        NO_REPORTING_CALENDAR {
            en: "{metric} has no reporting calendar: nothing says when its reports are due",
            vi: "{metric} không có lịch báo cáo: không xác định được hạn nộp báo cáo",
        }
        PERIOD_NOT_OVER {
            en: "the current period runs until {last}: it is not over yet, and its figure may still grow",
            vi: "kỳ hiện tại kéo dài đến {last}: kỳ chưa kết thúc nên số liệu còn có thể thay đổi",
        }
        NO_FIGURE_IN_PERIOD {
            en: "nothing was recorded for {from} to {to}",
            vi: "không có số liệu nào được ghi nhận từ {from} đến {to}",
        }
        NO_READING_BEFORE {
            en: "nothing was recorded before {from}: a counter's growth from then cannot be measured",
            vi: "không có số liệu nào trước {from}: không đo được mức tăng của bộ đếm từ thời điểm đó",
        }
        PERIOD_CHOICE {
            en: "give either `relative` (with `relativeTo`) or `from` and `to`",
            vi: "hãy dùng `relative` (kèm `relativeTo`) hoặc `from` và `to`",
        }
        QUERY_STRING_INVALID {
            en: "the query string cannot be read: {detail}",
            vi: "không đọc được chuỗi truy vấn: {detail}",
        }
        ALREADY_RECORDED {
            en: "observation {id} already records this metric for this instant: correct it instead",
            vi: "số liệu {id} đã ghi chỉ số này cho thời điểm này: hãy sửa số liệu đó",
        }
        RETRACTED {
            en: "observation {id} was retracted at revision {revision}",
            vi: "số liệu {id} đã bị rút lại ở phiên bản {revision}",
        }
        STALE_REVISION {
            en: "observation {id} is at revision {revision}, not {expected}: reload it and correct again",
            vi: "số liệu {id} đang ở phiên bản {revision}, không phải {expected}: hãy tải lại rồi sửa lại",
        }
        REPLACED_MEANWHILE {
            en: "revision {revision} of observation {id} was replaced meanwhile",
            vi: "phiên bản {revision} của số liệu {id} vừa bị thay thế",
        }
        REASON_REQUIRED {
            en: "say why, in 1 to {max} characters",
            vi: "hãy nêu lý do, từ 1 đến {max} ký tự",
        }
        DEMO_ROWS {
            en: "generate from 1 to {max} rows (got {rows})",
            vi: "hãy tạo từ 1 đến {max} dòng (nhận được {rows})",
        }

        // Imports.
        NO_HEADER_ROW {
            en: "no header row: {error}",
            vi: "không có dòng tiêu đề: {error}",
        }
        FILE_TOO_MANY_ROWS {
            en: "the file has more than {max} rows; import it in parts",
            vi: "tệp có hơn {max} dòng; hãy chia ra nhập nhiều lần",
        }
        ROW_UNREADABLE {
            en: "the row cannot be read: {error}",
            vi: "không đọc được dòng: {error}",
        }
        NOT_A_QUALIFIER {
            en: "`{text}` is not one of exact, more_than, at_least, about, nearly, less_than",
            vi: "`{text}` không phải một trong exact, more_than, at_least, about, nearly, less_than",
        }

        // Receipts and the audit anchor.
        NOT_A_RECEIPT {
            en: "not a receipt token",
            vi: "không phải mã biên nhận",
        }
        RECEIPT_NOT_SIGNED_HERE {
            en: "the receipt is not signed by this server's key",
            vi: "biên nhận không được ký bằng khóa của máy chủ này",
        }
        RECEIPT_MALFORMED {
            en: "the receipt is malformed",
            vi: "biên nhận sai định dạng",
        }
        RECEIPTS_UNAVAILABLE {
            en: "this server has no signing key, so it signs and checks no receipts",
            vi: "máy chủ này không có khóa ký nên không ký và không kiểm tra biên nhận",
        }
        RECEIPTS_FOR_QUERIES_ONLY {
            en: "receipts are given for queries only",
            vi: "biên nhận chỉ được cấp cho truy vấn (query)",
        }
        CHAIN_UNANCHORED {
            en: "this server has no signing key: its audit chain is unanchored",
            vi: "máy chủ này không có khóa ký: chuỗi kiểm toán của nó chưa được neo",
        }

        // The server.
        DATABASE_UNAVAILABLE {
            en: "the database is unavailable; try again shortly",
            vi: "cơ sở dữ liệu tạm thời không truy cập được; hãy thử lại sau ít phút",
        }
        SERVER_STOPPING {
            en: "the server is stopping; try again shortly",
            vi: "máy chủ đang dừng; hãy thử lại sau ít phút",
        }
        SLOW_SUBSCRIBER {
            en: "the subscription fell {missed} changes behind and was dropped; subscribe again",
            vi: "đăng ký bị chậm {missed} thay đổi nên đã bị ngắt; hãy đăng ký lại",
        }
        INTERNAL {
            en: "internal error",
            vi: "lỗi nội bộ",
        }

        // Requests over HTTP and WebSocket.
        NOT_ACCEPTABLE {
            en: "answers are {first} or {second}",
            vi: "câu trả lời chỉ có dạng {first} hoặc {second}",
        }
        UNSUPPORTED_MEDIA_TYPE {
            en: "send the request as application/json (or multipart/form-data for uploads)",
            vi: "hãy gửi yêu cầu dạng application/json (hoặc multipart/form-data khi tải tệp lên)",
        }
        BODY_TOO_LARGE {
            en: "the request body is larger than {max} bytes",
            vi: "thân yêu cầu lớn hơn {max} byte",
        }
        BODY_UNREADABLE {
            en: "the request is not a GraphQL request: the body could not be read",
            vi: "đây không phải yêu cầu GraphQL: không đọc được thân yêu cầu",
        }
        NOT_GRAPHQL_JSON {
            en: "the request is not a GraphQL request: the body is not a valid GraphQL request in JSON (or the query string is incomplete)",
            vi: "đây không phải yêu cầu GraphQL: thân yêu cầu không phải yêu cầu GraphQL hợp lệ dạng JSON (hoặc chuỗi truy vấn không đầy đủ)",
        }
        MULTIPART_MAP_INVALID {
            en: "the request is not a GraphQL request: the multipart `map` part is missing or invalid",
            vi: "đây không phải yêu cầu GraphQL: phần `map` của thân multipart bị thiếu hoặc không hợp lệ",
        }
        MULTIPART_INVALID {
            en: "the request is not a GraphQL request: the multipart body is invalid",
            vi: "đây không phải yêu cầu GraphQL: thân multipart không hợp lệ",
        }
        MULTIPART_FILE_MISSING {
            en: "the request is not a GraphQL request: a file named in `map` is missing",
            vi: "đây không phải yêu cầu GraphQL: thiếu một tệp được nêu trong `map`",
        }
        BATCHES_NOT_ACCEPTED {
            en: "the request is not a GraphQL request: batches are not accepted",
            vi: "đây không phải yêu cầu GraphQL: không nhận yêu cầu gộp",
        }
        REQUEST_UNREADABLE {
            en: "the request is not a GraphQL request: the request could not be read",
            vi: "đây không phải yêu cầu GraphQL: không đọc được yêu cầu",
        }
        NO_QUERY {
            en: "the request has no `query`: send the GraphQL document in `query`",
            vi: "yêu cầu không có `query`: hãy gửi tài liệu GraphQL trong `query`",
        }
        TOO_MANY_OPERATIONS {
            en: "{count} operations in one request; at most {max}",
            vi: "{count} thao tác trong một yêu cầu; tối đa {max}",
        }
        BAD_POSITION {
            en: "the {header} header is a log position as a write's answer gives it (like 0/16B3748), not {value}",
            vi: "tiêu đề {header} phải là một vị trí nhật ký như câu trả lời của một lần ghi đưa ra (ví dụ 0/16B3748), không phải {value}",
        }
        MUTATIONS_BY_POST {
            en: "mutations are sent with POST",
            vi: "mutation phải được gửi bằng POST",
        }
        REQUEST_TIMEOUT {
            en: "the request ran longer than {seconds} s",
            vi: "yêu cầu chạy lâu hơn {seconds} giây",
        }
        OPERATION_TIMEOUT {
            en: "the operation ran longer than {seconds} s",
            vi: "thao tác chạy lâu hơn {seconds} giây",
        }
        WEBSOCKET_SUBPROTOCOL {
            en: "ask for the graphql-transport-ws (or graphql-ws) subprotocol",
            vi: "hãy yêu cầu giao thức con graphql-transport-ws (hoặc graphql-ws)",
        }
        SUBSCRIPTIONS_ON_SOCKET {
            en: "this socket already has {max} live subscriptions; end one first",
            vi: "kết nối này đã có {max} đăng ký trực tiếp; hãy kết thúc một đăng ký trước",
        }
        SUBSCRIPTIONS_OF_CALLER {
            en: "this caller already has {max} live subscriptions; end one first",
            vi: "người gọi này đã có {max} đăng ký trực tiếp; hãy kết thúc một đăng ký trước",
        }
        GRAPHIQL_NO_FILE {
            en: "GraphiQL has no file `{name}`",
            vi: "GraphiQL không có tệp `{name}`",
        }

        // Documents over the limits, and what GraphQL itself refuses.
        TOO_MANY_TOKENS {
            en: "the document has more than {max} tokens; send a smaller document",
            vi: "tài liệu có hơn {max} token; hãy gửi tài liệu nhỏ hơn",
        }
        TOO_MANY_FIELDS {
            en: "the document resolves {count} fields once its fragments are expanded; at most {max} are allowed",
            vi: "tài liệu có {count} trường khi các fragment được mở rộng; chỉ cho phép tối đa {max}",
        }
        TOO_MANY_ALIASES {
            en: "the document has {count} aliases once its fragments are expanded; at most {max} are allowed",
            vi: "tài liệu có {count} bí danh khi các fragment được mở rộng; chỉ cho phép tối đa {max}",
        }
        QUERY_TOO_DEEP {
            en: "the document nests fields {depth} deep; at most {max} are allowed",
            vi: "tài liệu lồng các trường sâu {depth} mức; chỉ cho phép tối đa {max}",
        }
        INTROSPECTION_DISABLED {
            en: "introspection is turned off on this server",
            vi: "máy chủ này đã tắt introspection",
        }
        FRAGMENT_CYCLE {
            en: "fragments must not spread themselves; these do, directly or through others: {names}",
            vi: "fragment không được tự trải vào chính nó; các fragment sau làm vậy, trực tiếp hoặc qua fragment khác: {names}",
        }
        TOO_MANY_DIRECTIVES {
            en: "a selection carries {count} directives; at most {max} are allowed",
            vi: "một lựa chọn mang {count} chỉ thị; chỉ cho phép tối đa {max}",
        }
        TEXT_UNSTORABLE {
            en: "{argument}: text may not contain the NUL character (\\u0000), which the database cannot store",
            vi: "{argument}: văn bản không được chứa ký tự NUL (\\u0000), cơ sở dữ liệu không lưu được",
        }
        QUERY_TOO_COMPLEX {
            en: "Query is too complex.",
            vi: "Truy vấn quá phức tạp.",
        }
        ERRORS_LEFT_OUT {
            en: "{count} more errors were left out of this answer",
            vi: "{count} lỗi khác đã được lược khỏi câu trả lời này",
        }
        // async-graphql's own refusals keep its text as their detail.
        DOCUMENT_UNPARSED {
            en: "{detail}",
            vi: "Không đọc được tài liệu GraphQL: {detail}",
        }
        DOCUMENT_INVALID {
            en: "{detail}",
            vi: "Tài liệu GraphQL không hợp lệ với lược đồ: {detail}",
        }
        INPUT_INVALID {
            en: "{detail}",
            vi: "Giá trị đầu vào không hợp lệ: {detail}",
        }
        ARGUMENT_INVALID {
            en: "{detail}",
            vi: "Giá trị của đối số không hợp lệ: {detail}",
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn placeholders(text: &str) -> BTreeSet<&str> {
        text.split('{')
            .skip(1)
            .filter_map(|part| part.split_once('}').map(|(name, _)| name))
            .collect()
    }

    #[test]
    fn both_languages_of_every_template_take_the_same_values() {
        for template in catalogue::ALL {
            assert_eq!(
                placeholders(template.vi),
                placeholders(template.en),
                "{}",
                template.key
            );
            assert_ne!(
                template.vi, template.en,
                "{} is not translated",
                template.key
            );
        }
    }

    #[test]
    fn a_message_renders_its_values_and_words_in_the_language_asked() {
        let message = Message::new(&catalogue::NOT_FOUND)
            .with_word("entity", "metric")
            .with_word("key", "code")
            .with("value", "dvc.x");
        assert_eq!(message.render(Lang::En), "no metric has the code `dvc.x`");
        assert_eq!(
            message.render(Lang::Vi),
            "không có chỉ số nào có mã `dvc.x`"
        );
        assert_eq!(message.to_string(), message.render(Lang::En));
        // A value holding braces is put in as it is, not read as a placeholder.
        let braces = crate::message!(NOT_A_CURSOR);
        assert_eq!(
            braces.render(Lang::Vi),
            "không phải con trỏ do API này trả về"
        );
        let odd = crate::message!(NOT_A_DECIMAL, text = "{x}");
        assert!(odd.render(Lang::En).starts_with("`{x}` is not a decimal"));
    }

    #[test]
    fn the_preferred_supported_language_wins() {
        assert_eq!(Lang::from_accept_language("en-US,en;q=0.9"), Some(Lang::En));
        assert_eq!(
            Lang::from_accept_language("fr, vi;q=0.8, en;q=0.5"),
            Some(Lang::Vi)
        );
        assert_eq!(
            Lang::from_accept_language("en;q=0.3, vi-VN"),
            Some(Lang::Vi)
        );
        assert_eq!(Lang::from_accept_language("fr-FR"), None);
        assert_eq!(Lang::from_accept_language("en;q=0"), None);
    }
}
