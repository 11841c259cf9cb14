//! Value types of the configuration that are more than a string: an optional listen address
//! and server URLs. Each is written in TOML and in `CYBERFLAG_*` variables as a string, parsed
//! and checked when the configuration loads, so a bad value stops the process naming its key.

use std::net::SocketAddr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A listen address that may be switched off with an empty string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Listen(Option<SocketAddr>);

impl Listen {
    /// Listening on `address`.
    pub fn on(address: SocketAddr) -> Self {
        Self(Some(address))
    }

    /// The address, unless switched off.
    pub fn address(self) -> Option<SocketAddr> {
        self.0
    }
}

impl Serialize for Listen {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Some(address) => serializer.collect_str(&address),
            None => serializer.serialize_str(""),
        }
    }
}

impl<'de> Deserialize<'de> for Listen {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        if text.trim().is_empty() {
            return Ok(Self(None));
        }
        text.trim()
            .parse()
            .map(|address| Self(Some(address)))
            .map_err(|_| {
                serde::de::Error::custom(format!(
                    "{text:?} is not an address like 127.0.0.1:9464 (empty switches it off)"
                ))
            })
    }
}

/// An `http://` or `https://` URL of a server, without credentials: user information or a
/// password in the query would be printed wherever the URL is (configuration dumps, errors,
/// logs), so they are refused and belong in the settings made for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerUrl(url::Url);

impl ServerUrl {
    /// Parses and checks `text`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let url = url::Url::parse(text.trim()).map_err(|error| {
            format!(
                "{:?} is not an http:// or https:// URL ({error})",
                redacted(text)
            )
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "{} is not an http:// or https:// URL",
                redacted(text)
            ));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(format!("{} names no host", redacted(text)));
        }
        if crate::secrets::url_has_credentials(text) {
            return Err(format!(
                "{} carries credentials, which anyone shown the configuration, an error or a \
                 log line would see: put them in the settings made for them instead \
                 (clickhouse.user and clickhouse.password for ClickHouse)",
                redacted(text)
            ));
        }
        Ok(Self(url))
    }

    /// The URL as text, with no trailing `/` for a bare host (safe to print: it has no
    /// credentials).
    pub fn as_str(&self) -> &str {
        let text = self.0.as_str();
        if self.0.path() == "/" && self.0.query().is_none() && self.0.fragment().is_none() {
            text.trim_end_matches('/')
        } else {
            text
        }
    }
}

fn redacted(text: &str) -> std::borrow::Cow<'_, str> {
    crate::secrets::redact_url(text)
}

impl std::fmt::Display for ServerUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ServerUrl {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ServerUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A [`ServerUrl`] that may be left empty.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OptionalUrl(Option<ServerUrl>);

impl OptionalUrl {
    /// The URL, if set.
    pub fn get(&self) -> Option<&ServerUrl> {
        self.0.as_ref()
    }
}

impl Serialize for OptionalUrl {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0.as_ref().map_or("", ServerUrl::as_str))
    }
}

impl<'de> Deserialize<'de> for OptionalUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        if text.trim().is_empty() {
            return Ok(Self(None));
        }
        ServerUrl::parse(&text)
            .map(|url| Self(Some(url)))
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls_are_http_without_credentials() {
        for good in [
            "http://127.0.0.1:8123",
            "https://clickhouse.example.org:8443",
        ] {
            assert_eq!(ServerUrl::parse(good).unwrap().as_str(), good);
        }
        for (bad, why) in [
            ("127.0.0.1:8123", "not an http"),
            ("ftp://host", "not an http"),
            ("not a url", "not an http"),
            ("http://user:pw-Zx81@host:8123", "credentials"),
            ("http://host:8123/?password=pw-Zx81", "credentials"),
        ] {
            let error = ServerUrl::parse(bad).unwrap_err();
            assert!(error.contains(why), "{bad}: {error}");
            assert!(!error.contains("pw-Zx81"), "{error}");
        }
    }

    #[test]
    fn listen_addresses_may_be_switched_off() {
        let off: Listen = toml::Value::String(String::new()).try_into().unwrap();
        assert_eq!(off.address(), None);
        let on: Listen = toml::Value::String("127.0.0.1:9464".into())
            .try_into()
            .unwrap();
        assert_eq!(on.address(), Some("127.0.0.1:9464".parse().unwrap()));
        assert!(
            toml::Value::String("localhost".into())
                .try_into::<Listen>()
                .is_err()
        );
    }
}
