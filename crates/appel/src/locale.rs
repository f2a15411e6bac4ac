//! Which language to answer in.

use appel_codes::Locale;

/// The locale named by `--lang`, else the first of `LC_ALL`, `LC_MESSAGES`, `LANG` that names a
/// supported language, else English.
pub fn choose(flag: Option<Locale>, env: impl Fn(&str) -> Option<String>) -> Locale {
    flag.or_else(|| {
        ["LC_ALL", "LC_MESSAGES", "LANG"]
            .iter()
            .filter_map(|var| env(var))
            .find(|value| !value.is_empty())
            .and_then(|value| Locale::from_tag(&value))
    })
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_then_environment_then_english() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |var: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == var)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            choose(Some(Locale::En), env(&[("LANG", "fr_FR.UTF-8")])),
            Locale::En
        );
        assert_eq!(choose(None, env(&[("LANG", "fr_FR.UTF-8")])), Locale::Fr);
        assert_eq!(
            choose(None, env(&[("LC_ALL", "en_US"), ("LANG", "fr_FR")])),
            Locale::En
        );
        assert_eq!(choose(None, env(&[("LANG", "de_DE.UTF-8")])), Locale::En);
        assert_eq!(choose(None, env(&[("LANG", "C")])), Locale::En);
        assert_eq!(choose(None, env(&[])), Locale::En);
    }
}
