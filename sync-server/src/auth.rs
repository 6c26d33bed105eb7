//! Credentials: device tokens, dispatcher sessions, enrolment codes, passwords.
//!
//! Tokens are 32 random bytes (base64url) shown once; the database keeps only their SHA-256, so
//! a leaked database does not let anyone act as a device. Enrolment codes are short enough to
//! type, from an alphabet without look-alikes (no 0/O, 1/I/L), and stored hashed too.

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::rngs::OsRng;
use rand::{Rng, RngCore};
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::error::ApiError;
use crate::storage::{DeviceIdentity, Dispatcher};

/// Letters and digits a person reads off a screen without confusing them.
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
pub const CODE_LEN: usize = 10;

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// A fresh bearer token: 32 random bytes, base64url without padding.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What the database stores for a token.
pub fn token_hash(token: &str) -> String {
    sha256_hex(token.as_bytes())
}

pub fn new_enrolment_code() -> String {
    let mut rng = OsRng;
    (0..CODE_LEN)
        .map(|_| CODE_ALPHABET[rng.gen_range(0..CODE_ALPHABET.len())] as char)
        .collect()
}

/// Codes are typed by people: case, spaces and dashes do not matter.
pub fn code_hash(code: &str) -> String {
    let normal: String = code
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    sha256_hex(normal.as_bytes())
}

pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing the password: {e}"))
}

pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash to verify against when the email is unknown, so a login's timing does not tell
/// whether an account exists.
pub fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| hash_password("decoy password").unwrap_or_default())
}

pub fn bearer(parts: &Parts) -> Option<&str> {
    bearer_header(&parts.headers)
}

pub fn bearer_header(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
        .filter(|t| !t.is_empty())
}

/// An enrolled, unrevoked device, from its bearer token.
#[derive(Debug, Clone, Copy)]
pub struct DeviceAuth(pub DeviceIdentity);

impl FromRequestParts<AppState> for DeviceAuth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(parts).ok_or_else(ApiError::unauthorized)?;
        let hash = token_hash(token);
        let who = state
            .storage
            .device_by_token(&hash)
            .await?
            .ok_or_else(ApiError::unauthorized)?;
        state.limiter.authenticated(&hash);
        Ok(DeviceAuth(who))
    }
}

/// A dispatcher with an unexpired session.
#[derive(Debug, Clone)]
pub struct DispatcherAuth {
    pub dispatcher: Dispatcher,
    pub token_hash: String,
}

impl FromRequestParts<AppState> for DispatcherAuth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(parts).ok_or_else(ApiError::unauthorized)?;
        let hash = token_hash(token);
        let dispatcher = state
            .storage
            .session(&hash, state.config.clock.now())
            .await?
            .ok_or_else(ApiError::unauthorized)?;
        state.limiter.authenticated(&hash);
        Ok(DispatcherAuth {
            dispatcher,
            token_hash: hash,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_typable_and_forgiving() {
        let code = new_enrolment_code();
        assert_eq!(code.len(), CODE_LEN);
        assert!(code.bytes().all(|b| CODE_ALPHABET.contains(&b)));
        let typed = format!(" {}-{} ", &code[..5].to_lowercase(), &code[5..]);
        assert_eq!(code_hash(&typed), code_hash(&code));
    }

    #[test]
    fn passwords_verify_and_tokens_differ() {
        let h = hash_password("correct horse").unwrap();
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong", &h));
        assert_ne!(new_token(), new_token());
        assert_eq!(new_token().len(), 43);
    }
}
