//! CSV text, the one reader of it: a header row of names, then rows of as many cells.
//! Commas separate cells; a cell may stand in double quotes (then it may hold commas, and
//! `""` is a quote); blank lines are skipped. What the cells mean is the caller's business: a
//! recording ([`super::RecordedData::parse`]) wants numbers, the command line's `.npz` writer
//! types each column.

use ebn_core::{Error, Result};

/// Splits one CSV line into cells (double quotes around a cell allowed, `""` inside one).
pub fn cells(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cell.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cell)),
            _ => cell.push(c),
        }
    }
    out.push(cell);
    out
}

/// The header row of `text` and its rows, read one by one, each with as many cells as the
/// header: a row with another count is an error that names it (row 2 is the first after the
/// header, blank lines not counted).
pub fn rows(text: &str) -> Result<(Vec<String>, impl Iterator<Item = Result<Vec<String>>> + '_)> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header = cells(lines.next().ok_or_else(|| Error::Corrupt("empty CSV".into()))?);
    let width = header.len();
    let rows = lines.enumerate().map(move |(r, line)| {
        let row = cells(line);
        if row.len() == width {
            Ok(row)
        } else {
            Err(Error::Corrupt(format!("CSV row {} has {} cells, the header {width}", r + 2, row.len())))
        }
    });
    Ok((header, rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_cells_and_blank_lines() {
        assert_eq!(cells("a,\"b, c\",\"say \"\"hi\"\"\","), ["a", "b, c", "say \"hi\"", ""]);
        let (header, read) = rows("t,x\n\n0,1\n  \n0.5,2\n").unwrap();
        assert_eq!(header, ["t", "x"]);
        assert_eq!(read.collect::<Result<Vec<_>>>().unwrap(), [["0", "1"], ["0.5", "2"]]);
        let (_, read) = rows("t,x\n0,1\n0.5\n").unwrap();
        let e = read.collect::<Result<Vec<_>>>().unwrap_err();
        assert!(e.to_string().contains("CSV row 3 has 1 cells, the header 2"), "{e}");
        assert!(rows("\n \n").is_err());
    }
}
