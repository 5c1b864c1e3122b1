//! Counted nouns for messages: `1 file`, `2 files`, `0 objects`, and sizes in binary units
//! (`19.5 MiB`). Pure; one place, so no message says "1 files" or falls back to "file(s)", and every
//! size reads the same.

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

/// A size in bytes as people read it, in binary units: `0 B`, `4.0 KiB`, `19.5 MiB`.
pub fn size(bytes: u64) -> String {
    bytesize::ByteSize(bytes).display().iec().to_string()
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

    #[test]
    fn sizes_are_in_binary_units() {
        assert_eq!(size(0), "0 B");
        assert_eq!(size(4096), "4.0 KiB");
        assert_eq!(size(3 << 30), "3.0 GiB");
    }
}
