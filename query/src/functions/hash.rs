//! Hashing functions (section 4.8): digests of the text's UTF-8 bytes as lowercase hex.

use std::fmt::Write as _;

use md5::Md5;
use sha2::{Digest, Sha256};

use super::{string, text, FnContext, ScalarFunction};
use crate::value::Value;

pub(super) const FUNCTIONS: &[ScalarFunction] = &[
    ScalarFunction {
        name: "md5",
        min_args: 1,
        max_args: Some(1),
        call: md5,
    },
    ScalarFunction {
        name: "sha256",
        min_args: 1,
        max_args: Some(1),
        call: sha256,
    },
];

fn lowercase_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        // Writing to a String cannot fail.
        let _ = write!(out, "{byte:02x}");
    }
    out
}

fn md5(_: &FnContext, args: &[Option<Value>]) -> Option<Value> {
    string(lowercase_hex(&Md5::digest(text(args, 0)?.as_bytes())))
}

fn sha256(_: &FnContext, args: &[Option<Value>]) -> Option<Value> {
    string(lowercase_hex(&Sha256::digest(text(args, 0)?.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{call, n, s};

    #[test]
    fn md5_of_hello_is_the_standard_digest() {
        assert_eq!(call("md5", &[s("hello")]), s("5d41402abc4b2a76b9719d911017c592"));
        assert_eq!(call("md5", &[s("")]), s("d41d8cd98f00b204e9800998ecf8427e"));
    }

    #[test]
    fn sha256_of_hello_is_the_standard_digest() {
        assert_eq!(
            call("sha256", &[s("hello")]),
            s("2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")
        );
        assert_eq!(
            call("sha256", &[s("")]),
            s("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        );
    }

    #[test]
    fn hashes_digest_the_text_of_numbers_and_skip_missing_values() {
        assert_eq!(call("md5", &[n(1.0)]), s("c4ca4238a0b923820dcc509a6f75849b"));
        assert_eq!(call("md5", &[None]), None);
        assert_eq!(call("sha256", &[None]), None);
    }
}
