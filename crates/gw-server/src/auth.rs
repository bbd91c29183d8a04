//! Bearer tokens: only SHA-256 hashes are kept, and comparisons take the same time whatever
//! the presented secret.

use sha2::{Digest, Sha256};

use crate::config::{Scope, TokenConfig};

/// The hex SHA-256 of a secret, as configured in `server.tokens[].sha256`.
pub fn hash_token(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    let mut hex = String::with_capacity(64);
    for b in digest {
        hex.push_str(&format!("{b:02x}"));
    }
    hex
}

/// 64 hex digits (either case) to 32 bytes.
pub fn parse_hex_sha256(hex: &str) -> Option<[u8; 32]> {
    let bytes = hex.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        out[i] = (hi * 16 + lo) as u8;
    }
    Some(out)
}

/// Equality whose running time does not depend on where the inputs differ.
fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        diff |= x ^ y;
    }
    std::hint::black_box(diff) == 0
}

/// A caller the server recognised.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub token_id: String,
    pub scopes: Vec<Scope>,
}

impl Principal {
    /// `admin` implies every other scope.
    pub fn allows(&self, scope: Scope) -> bool {
        self.scopes.iter().any(|&s| s == scope || s == Scope::Admin)
    }
}

/// The configured tokens, hashes decoded once.
pub struct TokenTable {
    tokens: Vec<([u8; 32], Principal)>,
}

/// Why a request is not authenticated.
#[derive(Debug, PartialEq, Eq)]
pub enum AuthFailure {
    /// No `Authorization: Bearer` header.
    Missing,
    /// A header that is not `Bearer <token>`.
    Malformed,
    /// A token no configured hash matches.
    Unknown,
}

impl TokenTable {
    /// Tokens whose hash does not parse are skipped; [`crate::ServerConfig::validate`] reports them.
    pub fn new(tokens: &[TokenConfig]) -> TokenTable {
        TokenTable {
            tokens: tokens
                .iter()
                .filter_map(|t| {
                    let hash = parse_hex_sha256(&t.sha256)?;
                    Some((
                        hash,
                        Principal {
                            token_id: t.id.clone(),
                            scopes: t.scopes.clone(),
                        },
                    ))
                })
                .collect(),
        }
    }

    /// Finds the principal of an `Authorization` header value. Every configured hash is
    /// compared, so timing does not reveal which one (if any) matched.
    pub fn authenticate(&self, header: Option<&[u8]>) -> Result<&Principal, AuthFailure> {
        let header = header.ok_or(AuthFailure::Missing)?;
        let header = std::str::from_utf8(header).map_err(|_| AuthFailure::Malformed)?;
        let (scheme, secret) = header
            .trim()
            .split_once(' ')
            .ok_or(AuthFailure::Malformed)?;
        if !scheme.eq_ignore_ascii_case("bearer") || secret.trim().is_empty() {
            return Err(AuthFailure::Malformed);
        }
        let presented: [u8; 32] = Sha256::digest(secret.trim().as_bytes()).into();
        let mut found = None;
        for (hash, principal) in &self.tokens {
            if constant_time_eq(hash, &presented) && found.is_none() {
                found = Some(principal);
            }
        }
        found.ok_or(AuthFailure::Unknown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> TokenTable {
        TokenTable::new(&[
            TokenConfig {
                id: "shipper".into(),
                sha256: hash_token("s3cret"),
                scopes: vec![Scope::Ingest],
            },
            TokenConfig {
                id: "ops".into(),
                sha256: hash_token("root").to_uppercase(),
                scopes: vec![Scope::Admin],
            },
        ])
    }

    #[test]
    fn known_hash_of_a_known_secret() {
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn bearer_tokens_map_to_their_principal() {
        let t = table();
        let p = t.authenticate(Some(b"Bearer s3cret")).unwrap();
        assert_eq!(p.token_id, "shipper");
        assert!(p.allows(Scope::Ingest) && !p.allows(Scope::Read));
        let admin = t.authenticate(Some(b"bearer root")).unwrap();
        assert!(admin.allows(Scope::Ingest) && admin.allows(Scope::Read));
    }

    #[test]
    fn missing_malformed_and_unknown_tokens_are_told_apart() {
        let t = table();
        assert_eq!(t.authenticate(None), Err(AuthFailure::Missing));
        assert_eq!(t.authenticate(Some(b"s3cret")), Err(AuthFailure::Malformed));
        assert_eq!(
            t.authenticate(Some(b"Basic s3cret")),
            Err(AuthFailure::Malformed)
        );
        assert_eq!(
            t.authenticate(Some(b"Bearer ")),
            Err(AuthFailure::Malformed)
        );
        assert_eq!(
            t.authenticate(Some(b"Bearer s3cret2")),
            Err(AuthFailure::Unknown)
        );
        assert_eq!(
            t.authenticate(Some(b"Bearer \xff")),
            Err(AuthFailure::Malformed)
        );
    }
}
