//! Counted nouns for messages: `1 file`, `2 files`, `0 objects`. Pure; one place, so no message says
//! "1 files" or falls back to "file(s)".

/// `n` and the noun, singular for exactly one. Every noun s3rec counts takes a plain `s`.
pub fn counted(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// `is` for exactly one, else `are`: the verb after [`counted`].
pub fn is_are(n: usize) -> &'static str {
    if n == 1 { "is" } else { "are" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_is_singular_and_every_other_count_plural() {
        assert_eq!(counted(1, "file"), "1 file");
        assert_eq!(counted(0, "file"), "0 files");
        assert_eq!(counted(2, "object"), "2 objects");
        assert_eq!(format!("{} {}", counted(1, "object"), is_are(1)), "1 object is");
        assert_eq!(format!("{} {}", counted(3, "object"), is_are(3)), "3 objects are");
    }
}
