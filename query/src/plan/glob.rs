//! `parse` glob patterns (`"[*] * The error was: *"`), matched with substring searches instead
//! of a regex: each `*` but the last takes the shortest text up to the next literal part, the
//! last `*` the longest (it runs to the last occurrence of the final part, or to the end), and
//! the match may start anywhere. That is exactly what the equivalent regex of lazy groups and
//! one final greedy group matches: taking the first occurrence of each part can only leave more
//! text for the parts after it, so no other choice succeeds where it fails.

use memchr::memmem::{Finder, FinderRev};

#[derive(Debug)]
pub struct GlobPattern {
    /// The text before the first `*` (may be empty).
    head: Option<Finder<'static>>,
    /// The parts between stars, each ending the lazy capture before it.
    middle: Vec<Finder<'static>>,
    /// The text after the last `*`, searched from the end; `None` when empty.
    tail: Option<FinderRev<'static>>,
    stars: usize,
}

impl GlobPattern {
    pub fn new(pattern: &str) -> GlobPattern {
        let parts: Vec<&str> = pattern.split('*').collect();
        let stars = parts.len() - 1;
        let finder = |s: &str| Finder::new(s.as_bytes()).into_owned();
        let head = parts.first().filter(|p| !p.is_empty()).map(|p| finder(p));
        let (middle, tail) = if stars == 0 {
            (Vec::new(), None)
        } else {
            let middle = parts[1..stars].iter().map(|p| finder(p)).collect();
            let last = parts[stars];
            let tail = (!last.is_empty()).then(|| FinderRev::new(last.as_bytes()).into_owned());
            (middle, tail)
        };
        GlobPattern {
            head,
            middle,
            tail,
            stars,
        }
    }

    /// How many captures a match yields.
    pub fn stars(&self) -> usize {
        self.stars
    }

    /// The captured text of each `*`, into `out` (cleared first); false if `text` does not match.
    pub fn captures<'t>(&self, text: &'t str, out: &mut Vec<&'t str>) -> bool {
        out.clear();
        let bytes = text.as_bytes();
        let mut pos = match &self.head {
            Some(head) => match head.find(bytes) {
                Some(at) => at + head.needle().len(),
                None => return false,
            },
            None => 0,
        };
        if self.stars == 0 {
            return true;
        }
        for part in &self.middle {
            let Some(at) = part.find(&bytes[pos..]) else {
                return false;
            };
            let Some(captured) = text.get(pos..pos + at) else {
                return false;
            };
            out.push(captured);
            pos += at + part.needle().len();
        }
        let end = match &self.tail {
            Some(tail) => match tail.rfind(&bytes[pos..]) {
                Some(at) => pos + at,
                None => return false,
            },
            None => bytes.len(),
        };
        match text.get(pos..end) {
            Some(captured) => {
                out.push(captured);
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::GlobPattern;

    fn run(pattern: &str, text: &str) -> Option<Vec<String>> {
        let glob = GlobPattern::new(pattern);
        let mut out = Vec::new();
        glob.captures(text, &mut out)
            .then(|| out.iter().map(ToString::to_string).collect())
    }

    /// The regex the glob stands for, as the reference.
    fn reference(pattern: &str, text: &str) -> Option<Vec<String>> {
        let parts: Vec<&str> = pattern.split('*').collect();
        let mut re = String::from("(?s)");
        for (i, part) in parts.iter().enumerate() {
            re.push_str(&regex::escape(part));
            if i + 1 < parts.len() {
                re.push_str(if i + 2 == parts.len() { "(.*)" } else { "(.*?)" });
            }
        }
        let caps = regex::Regex::new(&re).unwrap().captures(text)?;
        Some(
            caps.iter()
                .skip(1)
                .map(|m| m.map_or(String::new(), |m| m.as_str().to_string()))
                .collect(),
        )
    }

    #[test]
    fn documented_example() {
        assert_eq!(
            run(
                "[*] * The error was: *",
                "25 May 2019 10:24:39,474 [ERROR] {foo=2, bar=data} The error was: DataIntegrityException"
            ),
            Some(vec![
                "ERROR".into(),
                "{foo=2, bar=data}".into(),
                "DataIntegrityException".into()
            ])
        );
    }

    #[test]
    fn agrees_with_the_regex_it_stands_for() {
        let patterns = [
            "* - - [*] \"* * *\" * *",
            "a=*;",
            "*x*",
            "**",
            "[*]",
            "key=* ",
            "*",
            "no stars",
            "*/*/*/*",
            "a*b*a",
        ];
        let texts = [
            "1.2.3.4 - - [01/Mar/2024:00:00:00 +0000] \"GET / HTTP/1.1\" 200 5",
            "1.2.3.4 - - [x] \"-\" 400 0",
            "a=1;b=2;",
            "xax xbx",
            "",
            "[a] [b]",
            "key=v1 key=v2 ",
            "prod/api/i-1/7",
            "abaab ba",
            "no stars here",
        ];
        for p in patterns {
            for t in texts {
                assert_eq!(run(p, t), reference(p, t), "pattern {p:?} on {t:?}");
            }
        }
    }
}
