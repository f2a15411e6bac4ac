//! The value types of the result model: codes, categories, scopes, locales and entries.

use std::fmt;

/// A 3-digit status. `0` means "ended normally" in a call-end reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Code(pub u16);

/// The family a [`Code`] belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CodeClass {
    /// `0`: the call ended normally.
    NormalEnd,
    /// 200–299.
    Success,
    /// 400–499: the client side (application, SDK, device or network) is the cause.
    Client,
    /// 500–599: the server side is the cause.
    Server,
    /// 600–699: a final answer that holds everywhere (declined, busy everywhere…).
    Global,
    /// Anything else: not a code Appel emits.
    Other,
}

impl Code {
    /// Which family this code belongs to.
    pub const fn class(self) -> CodeClass {
        match self.0 {
            0 => CodeClass::NormalEnd,
            200..=299 => CodeClass::Success,
            400..=499 => CodeClass::Client,
            500..=599 => CodeClass::Server,
            600..=699 => CodeClass::Global,
            _ => CodeClass::Other,
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl From<u16> for Code {
    fn from(value: u16) -> Self {
        Code(value)
    }
}

/// The kind of outcome. Exactly one per entry; a property of the entry, not of its code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum ResultCategory {
    /// Nothing went wrong (a normal end, a decline, a cancellation).
    Success,
    /// A foreseeable failure: wrong arguments, wrong state, the other party unavailable.
    ExpectedError,
    /// Something failed on the client side that should not have.
    UnexpectedClientError,
    /// Something failed on the server side that should not have.
    UnexpectedServerError,
}

impl ResultCategory {
    /// All categories, in a stable order.
    pub const ALL: [ResultCategory; 4] = [
        ResultCategory::Success,
        ResultCategory::ExpectedError,
        ResultCategory::UnexpectedClientError,
        ResultCategory::UnexpectedServerError,
    ];

    /// The name used in JSON, on the wire and on the command line.
    pub const fn as_str(self) -> &'static str {
        match self {
            ResultCategory::Success => "Success",
            ResultCategory::ExpectedError => "ExpectedError",
            ResultCategory::UnexpectedClientError => "UnexpectedClientError",
            ResultCategory::UnexpectedServerError => "UnexpectedServerError",
        }
    }

    /// Parses a category name, ignoring ASCII case.
    pub fn parse(text: &str) -> Option<ResultCategory> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(text))
    }
}

impl fmt::Display for ResultCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an entry can be met.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Scope {
    /// The error of a failing SDK operation.
    Sdk,
    /// The reason a call (or one participant's leg of it) ended.
    CallEnd,
    /// A fallback that carries a code and no subcode.
    CodeOnly,
}

impl Scope {
    /// All scopes, in the order the catalogue documents them.
    pub const ALL: [Scope; 3] = [Scope::Sdk, Scope::CallEnd, Scope::CodeOnly];

    /// The name used in JSON and on the command line.
    pub const fn as_str(self) -> &'static str {
        match self {
            Scope::Sdk => "sdk",
            Scope::CallEnd => "callEnd",
            Scope::CodeOnly => "codeOnly",
        }
    }
}

/// A language the catalogue is written in.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Locale {
    /// English, the default.
    #[default]
    En,
    /// French.
    Fr,
}

impl Locale {
    /// Both locales.
    pub const ALL: [Locale; 2] = [Locale::En, Locale::Fr];

    /// Picks a locale from a tag such as `fr`, `fr_FR.UTF-8` or `en-GB`; `None` for other languages.
    pub fn from_tag(tag: &str) -> Option<Locale> {
        let lang = tag
            .split(['_', '-', '.', '@'])
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        match lang.as_str() {
            "en" => Some(Locale::En),
            "fr" => Some(Locale::Fr),
            _ => None,
        }
    }

    /// The two-letter tag.
    pub const fn as_str(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::Fr => "fr",
        }
    }
}

/// One text written in every supported language.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Text {
    /// English.
    pub en: &'static str,
    /// French.
    pub fr: &'static str,
}

impl Text {
    /// The text in `locale`.
    pub const fn get(&self, locale: Locale) -> &'static str {
        match locale {
            Locale::En => self.en,
            Locale::Fr => self.fr,
        }
    }
}

/// One documented outcome of the catalogue.
#[derive(Debug, PartialEq, Eq)]
pub struct Entry {
    /// The 3-digit status.
    pub code: Code,
    /// The exact reason; `None` for code-only fallbacks.
    pub subcode: Option<u32>,
    /// Stable SCREAMING_SNAKE name; never reused for another meaning.
    pub name: &'static str,
    /// The kind of outcome.
    pub category: ResultCategory,
    /// Where the entry is met.
    pub scope: Scope,
    /// Whether retrying the same operation can succeed.
    pub retryable: bool,
    /// What happened.
    pub message: Text,
    /// What to do about it; never empty.
    pub advice: Text,
}

impl Entry {
    /// What happened, in `locale`.
    pub const fn message(&self, locale: Locale) -> &'static str {
        self.message.get(locale)
    }

    /// What to do about it, in `locale`.
    pub const fn advice(&self, locale: Locale) -> &'static str {
        self.advice.get(locale)
    }

    /// `subcode/code` (for example `10004/487`), or the code alone for a code-only entry.
    pub fn key(&self) -> String {
        match self.subcode {
            Some(sub) => format!("{sub}/{}", self.code),
            None => self.code.to_string(),
        }
    }
}

impl PartialEq<Entry> for &Entry {
    fn eq(&self, other: &Entry) -> bool {
        std::ptr::eq(*self, other) || **self == *other
    }
}

/// The catalogue's JSON form: both languages, `subCode` null for code-only entries.
impl serde::Serialize for Entry {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("Entry", 9)?;
        s.serialize_field("code", &self.code.0)?;
        s.serialize_field("subCode", &self.subcode)?;
        s.serialize_field("name", self.name)?;
        s.serialize_field("resultCategory", &self.category)?;
        s.serialize_field("scope", &self.scope)?;
        s.serialize_field("retryable", &self.retryable)?;
        s.serialize_field("message", &self.message)?;
        s.serialize_field("advice", &self.advice)?;
        let end_user = crate::end_user::end_user_texts(self);
        if end_user.is_empty() {
            s.skip_field("endUser")?;
        } else {
            s.serialize_field("endUser", &EndUserTexts(end_user))?;
        }
        s.end()
    }
}

/// A call-end entry's end-user texts in JSON: `{"you": {"en": …, "fr": …}, "other": …}`.
struct EndUserTexts(&'static [crate::end_user::EndUserText]);

impl serde::Serialize for EndUserTexts {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for text in self.0 {
            map.serialize_entry(text.viewer.as_str(), &text.text)?;
        }
        map.end()
    }
}
