//! Go's `text/tabwriter` as docker's tables use it: cells end at a tab,
//! each column is as wide as its widest cell plus the padding.

/// Go's `tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)`, as docker's tables use:
/// tab-terminated cells are padded to their column's widest cell plus three
/// (at least ten); a column runs over consecutive lines that have that cell.
pub fn tabwrite(text: &str) -> String {
    tabwrite_min(text, 10)
}

/// [`tabwrite`] with another minimum cell width (`docker top` uses 20).
pub fn tabwrite_min(text: &str, min_width: usize) -> String {
    const PADDING: usize = 3;
    let lines: Vec<Vec<&str>> = text
        .strip_suffix('\n')
        .unwrap_or(text)
        .split('\n')
        .map(|l| l.split('\t').collect())
        .collect();
    let mut out = String::new();
    let mut widths = Vec::new();
    format_block(
        &lines,
        0,
        lines.len(),
        &mut widths,
        &mut out,
        min_width,
        PADDING,
    );
    if !text.is_empty() {
        out.push('\n');
    }
    out
}

fn format_block(
    lines: &[Vec<&str>],
    line0: usize,
    line1: usize,
    widths: &mut Vec<usize>,
    out: &mut String,
    min_width: usize,
    padding: usize,
) {
    let column = widths.len();
    let mut pos = line0;
    let mut this = line0;
    while this < line1 {
        // A line whose cells reach this column starts a block.
        if column + 1 >= lines[this].len() {
            this += 1;
            continue;
        }
        write_lines(lines, pos, this, widths, out);
        let start = this;
        let mut width = min_width;
        while this < line1 && column + 1 < lines[this].len() {
            width = width.max(lines[this][column].chars().count() + padding);
            this += 1;
        }
        widths.push(width);
        format_block(lines, start, this, widths, out, min_width, padding);
        widths.pop();
        pos = this;
    }
    write_lines(lines, pos, line1, widths, out);
}

fn write_lines(lines: &[Vec<&str>], from: usize, to: usize, widths: &[usize], out: &mut String) {
    for (i, line) in lines.iter().enumerate().take(to).skip(from) {
        if i > 0 {
            out.push('\n');
        }
        for (j, cell) in line.iter().enumerate() {
            out.push_str(cell);
            if let Some(w) = widths.get(j).filter(|_| j + 1 < line.len()) {
                let n = w.saturating_sub(cell.chars().count());
                out.extend(std::iter::repeat_n(' ', n));
            }
        }
    }
}
