//! [`Secret`]: a configuration value that is never shown.

use serde::{Deserialize, Serialize};

/// A password, key password or credential-bearing URL list. Its `Debug` and its serialisation
/// (which is what `cyberflag config show` prints) are `<redacted>` whenever it is set, so no
/// configuration dump, log line or error can carry it; only [`Secret::expose`] gives the value.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// What is shown in its place.
    pub const REDACTED: &str = "<redacted>";

    /// The value, for the one place that must send it (a connection, a request).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether it is unset.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// What to show: empty when unset, otherwise [`Secret::REDACTED`].
    pub fn shown(&self) -> &'static str {
        if self.0.is_empty() {
            ""
        } else {
            Self::REDACTED
        }
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.shown())
    }
}

/// Serialised as it is shown. Defaults are empty, so the defaults layer and the list of keys
/// (both built by serialising [`super::Config::default`]) are unaffected.
impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.shown())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_secret_is_never_shown() {
        let secret = Secret::from("hunter2");
        assert_eq!(format!("{secret:?}"), "<redacted>");
        assert_eq!(
            toml::Value::try_from(&secret).unwrap(),
            toml::Value::String("<redacted>".into())
        );
        assert_eq!(secret.expose(), "hunter2");
        let unset = Secret::default();
        assert_eq!(format!("{unset:?}"), "");
        assert!(unset.is_empty());
    }
}
