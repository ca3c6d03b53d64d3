//! [`Tenant`]: a municipality, named by its kommunekode.
//!
//! The type lives here, in the audit log, because the audit log is the lowest crate that needs it
//! (every record belongs to a tenant) and both `komp-server` and the `komp` binary already depend
//! on it; `komp-runtime` and `komp-artifact` know nothing about tenants.
//!
//! A `Tenant` can only be made by parsing ([`str::parse`], [`Tenant::parse`], or deserializing),
//! so a function that takes one never has to check it again: the token file, the configuration,
//! URL paths and command-line arguments parse at the edge, and everything behind them is typed.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A tenant: a municipality's four-digit kommunekode, e.g. `0101` (København) or `0751` (Aarhus).
///
/// Serialized as the plain string (`"0751"`), so audit records, token files and JSON bodies keep
/// their format. Hashes and compares like that string, so maps keyed by `Tenant` can be looked up
/// with a `&str`.
///
/// ```
/// use komp_audit::Tenant;
/// let t: Tenant = "0751".parse().unwrap();
/// assert_eq!(t.as_str(), "0751");
/// assert!("751".parse::<Tenant>().is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Tenant([u8; 4]);

/// A text that is not a kommunekode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("tenant {given:?} is not a kommunekode: expected exactly four digits, e.g. 0101 or 0751")]
pub struct InvalidTenant {
    /// What was given (at most 40 characters of it).
    pub given: String,
}

impl Tenant {
    /// Parses a kommunekode: exactly four ASCII digits.
    pub fn parse(s: &str) -> Result<Tenant, InvalidTenant> {
        match <[u8; 4]>::try_from(s.as_bytes()) {
            Ok(b) if b.iter().all(u8::is_ascii_digit) => Ok(Tenant(b)),
            _ => Err(InvalidTenant { given: s.chars().take(40).collect() }),
        }
    }

    /// The kommunekode as text (four digits).
    pub fn as_str(&self) -> &str {
        // Four ASCII digits by construction.
        std::str::from_utf8(&self.0).expect("a Tenant holds four ASCII digits")
    }
}

impl FromStr for Tenant {
    type Err = InvalidTenant;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Tenant::parse(s)
    }
}

impl TryFrom<&str> for Tenant {
    type Error = InvalidTenant;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Tenant::parse(s)
    }
}

impl TryFrom<String> for Tenant {
    type Error = InvalidTenant;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Tenant::parse(&s)
    }
}

impl fmt::Display for Tenant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Tenant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl AsRef<str> for Tenant {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

/// Consistent with `Hash` and `Eq` (both are those of the text), so `HashMap<Tenant, _>` can be
/// queried with a `&str`.
impl Borrow<str> for Tenant {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl Hash for Tenant {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl PartialEq<str> for Tenant {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Tenant {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Serialize for Tenant {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Tenant {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Tenant::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_four_digits_only() {
        assert_eq!(Tenant::parse("0101").unwrap().as_str(), "0101");
        for bad in ["", "101", "01011", "01a1", "０１０１", " 0101", "0101\n"] {
            let e = Tenant::parse(bad).unwrap_err();
            assert!(e.to_string().contains("four digits"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn serde_is_the_plain_string() {
        let t: Tenant = serde_json::from_str("\"0751\"").unwrap();
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"0751\"");
        let e = serde_json::from_str::<Tenant>("\"75\"").unwrap_err();
        assert!(e.to_string().contains("not a kommunekode"), "{e}");
        let map: std::collections::HashMap<Tenant, u8> = [(t, 1)].into();
        assert_eq!(map.get("0751"), Some(&1));
    }
}
