//! The language names are given in: a field's `lang` argument, else the request's
//! `Accept-Language`, else Vietnamese.

use async_graphql::{Context, Enum};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Enum)]
pub enum Lang {
    /// Vietnamese.
    #[default]
    Vi,
    /// English.
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

    pub fn resolve(ctx: &Context<'_>, explicit: Option<Self>) -> Self {
        explicit
            .or_else(|| ctx.data_opt::<Self>().copied())
            .unwrap_or_default()
    }

    pub fn pick<'a>(self, vi: &'a str, en: &'a str) -> &'a str {
        match self {
            Self::Vi => vi,
            Self::En => en,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
