//! NumPy files: every CSV this command line writes is accompanied by a `.npz` of its columns,
//! so that `numpy.load("x.npz")["column"]` gives the data with no parsing code.
//!
//! Formats (written here, read by NumPy): `.npy` version 1.0 (magic `\x93NUMPY`, a header
//! dict `{'descr', 'fortran_order', 'shape'}` padded with spaces to a multiple of 64 bytes,
//! then the little-endian data) and `.npz`, a ZIP archive of one `.npy` per array, stored
//! without compression, with fixed timestamps (1980-01-01), so that the same data give the
//! same bytes. A column whose every value is an integer becomes `int64`; one whose values all
//! parse as numbers (empty cells as NaN) `float64`; any other column a fixed-width unicode
//! string array (`<U n`).

use anyhow::{Result, bail};

/// One column of a table, typed.
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    /// Integers (`<i8`).
    Int(Vec<i64>),
    /// Numbers (`<f8`); empty cells are NaN.
    Float(Vec<f64>),
    /// Anything else (`<U n`, n the longest value in characters).
    Text(Vec<String>),
}

impl Column {
    fn from_cells(cells: Vec<String>) -> Self {
        if !cells.is_empty() && cells.iter().all(|c| !c.is_empty() && c.parse::<i64>().is_ok()) {
            return Self::Int(cells.iter().map(|c| c.parse().unwrap_or_default()).collect());
        }
        let floats: Option<Vec<f64>> =
            cells.iter().map(|c| if c.is_empty() { Some(f64::NAN) } else { c.parse::<f64>().ok() }).collect();
        match floats {
            Some(v) => Self::Float(v),
            None => Self::Text(cells),
        }
    }

    /// The column as a `.npy` file.
    pub fn to_npy(&self) -> Vec<u8> {
        let (descr, len) = match self {
            Self::Int(v) => ("<i8".to_string(), v.len()),
            Self::Float(v) => ("<f8".to_string(), v.len()),
            Self::Text(v) => (format!("<U{}", v.iter().map(|s| s.chars().count()).max().unwrap_or(0).max(1)), v.len()),
        };
        let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': ({len},), }}");
        // magic (6) + version (2) + header length (2) + header + '\n', a multiple of 64.
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        let mut out = Vec::with_capacity(10 + header.len() + 8 * len);
        out.extend_from_slice(b"\x93NUMPY\x01\x00");
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        out.extend_from_slice(header.as_bytes());
        match self {
            Self::Int(v) => v.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            Self::Float(v) => v.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            Self::Text(v) => {
                let width = v.iter().map(|s| s.chars().count()).max().unwrap_or(0).max(1);
                for s in v {
                    let mut n = 0;
                    for ch in s.chars() {
                        out.extend_from_slice(&u32::from(ch).to_le_bytes());
                        n += 1;
                    }
                    out.extend(std::iter::repeat_n(0u8, 4 * (width - n)));
                }
            }
        }
        out
    }
}

/// The columns of a CSV text with a header row ([`ebn_network::data::csv`]), by name, in
/// order.
pub fn csv_columns(text: &str) -> Result<Vec<(String, Column)>> {
    let (names, rows) = ebn_network::data::csv::rows(text)?;
    let mut columns: Vec<Vec<String>> = vec![Vec::new(); names.len()];
    for values in rows {
        for (column, value) in columns.iter_mut().zip(values?) {
            column.push(value);
        }
    }
    Ok(names.into_iter().zip(columns.into_iter().map(Column::from_cells)).collect())
}

/// The columns of a CSV text as an `.npz` archive (one array per column, named by its header;
/// a repeated name gets a `_<k>` suffix).
pub fn csv_to_npz(text: &str) -> Result<Vec<u8>> {
    let mut seen: Vec<String> = Vec::new();
    let files: Vec<(String, Vec<u8>)> = csv_columns(text)?
        .into_iter()
        .map(|(name, column)| {
            let mut key = if name.is_empty() { "column".to_string() } else { name };
            if seen.contains(&key) {
                key = format!("{key}_{}", seen.len());
            }
            seen.push(key.clone());
            (format!("{key}.npy"), column.to_npy())
        })
        .collect();
    zip_stored(&files)
}

/// A ZIP archive of `files` (name, contents), stored (no compression), DOS date 1980-01-01.
pub fn zip_stored(files: &[(String, Vec<u8>)]) -> Result<Vec<u8>> {
    const DATE: u16 = (1 << 5) | 1; // 1980-01-01
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in files {
        let (Ok(size), Ok(offset), Ok(name_len)) =
            (u32::try_from(data.len()), u32::try_from(out.len()), u16::try_from(name.len()))
        else {
            bail!("{name}: too large for a ZIP archive without ZIP64 (4 GiB)");
        };
        if size == u32::MAX {
            bail!("{name}: too large for a ZIP archive without ZIP64 (4 GiB)");
        }
        let crc = crc32fast::hash(data);
        let common = |v: &mut Vec<u8>| {
            v.extend_from_slice(&20u16.to_le_bytes()); // version needed: 2.0
            v.extend_from_slice(&0u16.to_le_bytes()); // flags
            v.extend_from_slice(&0u16.to_le_bytes()); // stored
            v.extend_from_slice(&0u16.to_le_bytes()); // time
            v.extend_from_slice(&DATE.to_le_bytes());
            v.extend_from_slice(&crc.to_le_bytes());
            v.extend_from_slice(&size.to_le_bytes());
            v.extend_from_slice(&size.to_le_bytes());
            v.extend_from_slice(&name_len.to_le_bytes());
            v.extend_from_slice(&0u16.to_le_bytes()); // extra field length
        };
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        common(&mut out);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);
        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&20u16.to_le_bytes()); // made by: 2.0
        common(&mut central);
        central.extend_from_slice(&0u16.to_le_bytes()); // comment length
        central.extend_from_slice(&0u16.to_le_bytes()); // disk
        central.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
        central.extend_from_slice(&0u32.to_le_bytes()); // external attributes
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let (Ok(count), Ok(cd_offset), Ok(cd_size)) =
        (u16::try_from(files.len()), u32::try_from(out.len()), u32::try_from(central.len()))
    else {
        bail!("too many or too large files for a ZIP archive without ZIP64");
    };
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&cd_size.to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ZIP's CRC-32 is IEEE 802.3's (reflected polynomial 0xEDB88320): its standard check value.
    #[test]
    fn crc32_of_the_standard_check_string() {
        assert_eq!(crc32fast::hash(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn columns_are_typed() {
        let cols = csv_columns("t,neuron,name,x\n0.5,3,\"a, b\",\n1e-3,12,c,2\n").unwrap();
        assert_eq!(cols[0], ("t".into(), Column::Float(vec![0.5, 1e-3])));
        assert_eq!(cols[1], ("neuron".into(), Column::Int(vec![3, 12])));
        assert_eq!(cols[2], ("name".into(), Column::Text(vec!["a, b".into(), "c".into()])));
        match &cols[3].1 {
            Column::Float(v) => assert!(v[0].is_nan() && v[1] == 2.0),
            other => panic!("{other:?}"),
        }
        assert!(csv_columns("a,b\n1\n").is_err());
    }

    /// The .npy header is 64-byte aligned and the data follow it exactly.
    #[test]
    fn npy_layout() {
        let npy = Column::Float(vec![1.5, -2.0]).to_npy();
        assert_eq!(&npy[..8], b"\x93NUMPY\x01\x00");
        let header_len = u16::from_le_bytes([npy[8], npy[9]]) as usize;
        assert_eq!((10 + header_len) % 64, 0);
        let header = std::str::from_utf8(&npy[10..10 + header_len]).unwrap();
        assert!(header.starts_with("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }"));
        assert!(header.ends_with('\n'));
        assert_eq!(npy.len(), 10 + header_len + 16);
        assert_eq!(f64::from_le_bytes(npy[10 + header_len..18 + header_len].try_into().unwrap()), 1.5);
        let text = Column::Text(vec!["ab".into(), "é".into()]).to_npy();
        let h = u16::from_le_bytes([text[8], text[9]]) as usize;
        assert!(std::str::from_utf8(&text[10..10 + h]).unwrap().contains("'<U2'"));
        assert_eq!(text.len(), 10 + h + 2 * 2 * 4);
    }

    /// The archive's directory points at each member, whose stored bytes are the .npy file.
    #[test]
    fn npz_members_can_be_found_from_the_central_directory() {
        let npz = csv_to_npz("a,b\n1,2.5\n3,4.5\n").unwrap();
        let end = npz.len() - 22;
        assert_eq!(u32::from_le_bytes(npz[end..end + 4].try_into().unwrap()), 0x0605_4b50);
        let count = u16::from_le_bytes(npz[end + 10..end + 12].try_into().unwrap());
        assert_eq!(count, 2);
        let cd = u32::from_le_bytes(npz[end + 16..end + 20].try_into().unwrap()) as usize;
        let name_len = u16::from_le_bytes(npz[cd + 28..cd + 30].try_into().unwrap()) as usize;
        assert_eq!(&npz[cd + 46..cd + 46 + name_len], b"a.npy");
        let offset = u32::from_le_bytes(npz[cd + 42..cd + 46].try_into().unwrap()) as usize;
        let size = u32::from_le_bytes(npz[offset + 18..offset + 22].try_into().unwrap()) as usize;
        let data = &npz[offset + 30 + name_len..offset + 30 + name_len + size];
        assert_eq!(data, Column::Int(vec![1, 3]).to_npy());
        assert_eq!(u32::from_le_bytes(npz[offset + 14..offset + 18].try_into().unwrap()), crc32fast::hash(data));
    }
}
