//! A small line diff for `cargo xtask docs --check`: enough to show what changed in a stale
//! page, in the unified format's spirit (`-` checked in, `+` generated, three lines of
//! context, `@@` hunk headers), cut off after a number of lines.

/// One line of an edit script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Edit<'a> {
    Same(&'a str),
    Removed(&'a str),
    Added(&'a str),
}

/// Context lines around each change.
const CONTEXT: usize = 3;
/// Past this many cells the middle of the two files is shown as replaced wholesale rather
/// than aligned line by line.
const MAX_CELLS: usize = 4_000_000;

/// The diff from `old` to `new`, at most `max_lines` lines of it (then a note of how many
/// more there are). Empty when the two are equal.
pub(crate) fn excerpt(old: &str, new: &str, max_lines: usize) -> String {
    let old: Vec<&str> = old.lines().collect();
    let new: Vec<&str> = new.lines().collect();
    let edits = edits(&old, &new);
    let mut lines = Vec::new();
    let changed: Vec<usize> = edits
        .iter()
        .enumerate()
        .filter(|(_, e)| !matches!(e, Edit::Same(_)))
        .map(|(i, _)| i)
        .collect();
    let mut i = 0;
    while i < changed.len() {
        // A hunk: changes no further apart than twice the context.
        let start = changed[i].saturating_sub(CONTEXT);
        let mut end = changed[i];
        while i + 1 < changed.len() && changed[i + 1] <= end + 2 * CONTEXT + 1 {
            i += 1;
            end = changed[i];
        }
        let end = (end + CONTEXT + 1).min(edits.len());
        let old_line = 1 + edits[..start]
            .iter()
            .filter(|e| !matches!(e, Edit::Added(_)))
            .count();
        let new_line = 1 + edits[..start]
            .iter()
            .filter(|e| !matches!(e, Edit::Removed(_)))
            .count();
        lines.push(format!("@@ -{old_line} +{new_line} @@"));
        for e in &edits[start..end] {
            lines.push(match e {
                Edit::Same(l) => format!(" {l}"),
                Edit::Removed(l) => format!("-{l}"),
                Edit::Added(l) => format!("+{l}"),
            });
        }
        i += 1;
    }
    if lines.len() > max_lines {
        let more = lines.len() - max_lines;
        lines.truncate(max_lines);
        lines.push(format!("... ({more} more diff lines)"));
    }
    lines.join("\n")
}

/// The edit script: common prefix and suffix, and a longest-common-subsequence alignment of
/// what lies between.
fn edits<'a>(old: &[&'a str], new: &[&'a str]) -> Vec<Edit<'a>> {
    let prefix = old.iter().zip(new).take_while(|(a, b)| a == b).count();
    let suffix = old[prefix..]
        .iter()
        .rev()
        .zip(new[prefix..].iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let (a, b) = (
        &old[prefix..old.len() - suffix],
        &new[prefix..new.len() - suffix],
    );
    let mut out: Vec<Edit<'a>> = old[..prefix].iter().map(|l| Edit::Same(l)).collect();
    if a.len().saturating_mul(b.len()) > MAX_CELLS {
        out.extend(a.iter().map(|l| Edit::Removed(l)));
        out.extend(b.iter().map(|l| Edit::Added(l)));
    } else {
        // lcs[i][j]: the longest common subsequence of a[i..] and b[j..].
        let w = b.len() + 1;
        let mut lcs = vec![0u32; (a.len() + 1) * w];
        for i in (0..a.len()).rev() {
            for j in (0..b.len()).rev() {
                lcs[i * w + j] = if a[i] == b[j] {
                    lcs[(i + 1) * w + j + 1] + 1
                } else {
                    lcs[(i + 1) * w + j].max(lcs[i * w + j + 1])
                };
            }
        }
        let (mut i, mut j) = (0, 0);
        while i < a.len() || j < b.len() {
            if i < a.len() && j < b.len() && a[i] == b[j] {
                out.push(Edit::Same(a[i]));
                i += 1;
                j += 1;
            } else if i < a.len() && (j == b.len() || lcs[(i + 1) * w + j] >= lcs[i * w + j + 1]) {
                out.push(Edit::Removed(a[i]));
                i += 1;
            } else {
                out.push(Edit::Added(b[j]));
                j += 1;
            }
        }
    }
    out.extend(old[old.len() - suffix..].iter().map(|l| Edit::Same(l)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_changes_with_context() {
        let old = "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n";
        let new = "a\nb\nc\nd\nE\nf\ng\nh\ni\nj\nk\n";
        assert_eq!(
            excerpt(old, new, 100),
            "@@ -2 +2 @@\n b\n c\n d\n-e\n+E\n f\n g\n h\n i\n j\n+k"
        );
    }

    #[test]
    fn distant_changes_are_separate_hunks_and_long_diffs_are_cut() {
        let old: String = (0..40).map(|i| format!("{i}\n")).collect();
        let new = old
            .replace("\n5\n", "\nfive\n")
            .replace("\n30\n", "\nthirty\n");
        let diff = excerpt(&old, &new, 100);
        assert_eq!(diff.matches("@@").count(), 4, "{diff}");
        assert!(
            diff.starts_with("@@ -3 +3 @@\n 2\n 3\n 4\n-5\n+five\n"),
            "{diff}"
        );
        let cut = excerpt(&old, &new, 3);
        assert!(cut.ends_with("... (15 more diff lines)"), "{cut}");
        assert_eq!(excerpt(&old, &old, 10), "");
    }
}
