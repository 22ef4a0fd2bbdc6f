//! The names of the packages in an rpm database (`rpmdb.sqlite`, rpm >= 4.16: Amazon Linux
//! 2023, RHEL 9, Fedora), read straight from the SQLite file without running rpm or linking
//! SQLite: rpm keeps an index table `Name(key, hnum, idx)` whose `key` column is the package
//! name, and walking one table b-tree is a small, well-specified job
//! (<https://www.sqlite.org/fileformat.html>).

use std::collections::HashSet;

/// Reads the package names from the bytes of an `rpmdb.sqlite`.
pub fn package_names(db: &[u8]) -> Result<HashSet<String>, String> {
    let f = File::new(db)?;
    let root_page = f.table_root("Name")?;
    let mut names = HashSet::new();
    f.walk(root_page, 0, &mut |record| {
        if let Some(Value::Text(name)) = record.first() {
            names.insert(name.clone());
        }
    })?;
    Ok(names)
}

struct File<'a> {
    data: &'a [u8],
    page_size: usize,
    usable: usize,
}

#[derive(Debug, Clone, PartialEq)]
enum Value {
    Null,
    Int(i64),
    Text(String),
    Other,
}

impl<'a> File<'a> {
    fn new(data: &'a [u8]) -> Result<Self, String> {
        if data.len() < 100 || &data[..16] != b"SQLite format 3\0" {
            return Err("not an SQLite 3 database".into());
        }
        let raw = u16::from_be_bytes([data[16], data[17]]) as usize;
        let page_size = if raw == 1 { 65536 } else { raw };
        if !page_size.is_power_of_two() || page_size < 512 {
            return Err(format!("bad page size {page_size}"));
        }
        let usable = page_size - data[20] as usize;
        Ok(File { data, page_size, usable })
    }

    fn page(&self, n: u32) -> Result<&'a [u8], String> {
        let start = (n as usize).checked_sub(1).ok_or("page 0 referenced")? * self.page_size;
        self.data.get(start..start + self.page_size).ok_or_else(|| format!("page {n} is past the end of the file"))
    }

    /// The root page of table `name`, from the schema table on page 1.
    fn table_root(&self, name: &str) -> Result<u32, String> {
        let mut found = None;
        self.walk(1, 0, &mut |r| {
            if let [Value::Text(kind), Value::Text(n), _, Value::Int(root), ..] = r {
                if kind == "table" && n == name {
                    found = Some(*root as u32);
                }
            }
        })?;
        found.ok_or_else(|| format!("no table {name:?} (not an rpm database?)"))
    }

    /// Visits every record of the table b-tree rooted at `page`.
    fn walk(&self, page: u32, depth: usize, visit: &mut dyn FnMut(&[Value])) -> Result<(), String> {
        if depth > 64 {
            return Err("b-tree too deep (corrupt database?)".into());
        }
        let p = self.page(page)?;
        let hdr = if page == 1 { 100 } else { 0 };
        let kind = p[hdr];
        let cells = u16::from_be_bytes([p[hdr + 3], p[hdr + 4]]) as usize;
        let (ptrs, interior) = match kind {
            0x0d => (hdr + 8, false),
            0x05 => (hdr + 12, true),
            k => return Err(format!("page {page}: not a table b-tree page (type {k:#x})")),
        };
        for i in 0..cells {
            let at = ptrs + 2 * i;
            let off =
                u16::from_be_bytes([*p.get(at).ok_or("bad cell pointer")?, *p.get(at + 1).ok_or("bad cell pointer")?])
                    as usize;
            let cell = p.get(off..).ok_or("cell past the page")?;
            if interior {
                let child =
                    u32::from_be_bytes(cell.get(..4).ok_or("short cell")?.try_into().map_err(|_| "short cell")?);
                self.walk(child, depth + 1, visit)?;
            } else {
                let (size, a) = varint(cell)?;
                let (_rowid, b) = varint(&cell[a..])?;
                let payload = self.payload(&cell[a + b..], size as usize)?;
                visit(&record(&payload)?);
            }
        }
        if interior {
            let right = u32::from_be_bytes(p[hdr + 8..hdr + 12].try_into().map_err(|_| "short header")?);
            self.walk(right, depth + 1, visit)?;
        }
        Ok(())
    }

    /// A leaf cell's payload, following overflow pages when it does not fit in the page.
    fn payload(&self, local: &[u8], size: usize) -> Result<Vec<u8>, String> {
        let u = self.usable;
        let max_local = u - 35;
        if size <= max_local {
            return local.get(..size).map(<[u8]>::to_vec).ok_or_else(|| "payload past the page".into());
        }
        let min_local = (u - 12) * 32 / 255 - 23;
        let k = min_local + (size - min_local) % (u - 4);
        let here = if k <= max_local { k } else { min_local };
        let mut out = local.get(..here).ok_or("payload past the page")?.to_vec();
        let mut next =
            u32::from_be_bytes(local.get(here..here + 4).ok_or("short overflow pointer")?.try_into().unwrap());
        let mut hops = 0;
        while out.len() < size && next != 0 {
            hops += 1;
            if hops > 1_000_000 {
                return Err("overflow chain loops".into());
            }
            let p = self.page(next)?;
            next = u32::from_be_bytes(p[..4].try_into().unwrap());
            let take = (size - out.len()).min(u - 4);
            out.extend_from_slice(&p[4..4 + take]);
        }
        Ok(out)
    }
}

fn varint(b: &[u8]) -> Result<(u64, usize), String> {
    let mut v = 0u64;
    for i in 0..9 {
        let byte = *b.get(i).ok_or("truncated varint")?;
        if i == 8 {
            return Ok(((v << 8) | byte as u64, 9));
        }
        v = (v << 7) | (byte & 0x7f) as u64;
        if byte & 0x80 == 0 {
            return Ok((v, i + 1));
        }
    }
    unreachable!()
}

fn record(payload: &[u8]) -> Result<Vec<Value>, String> {
    let (header_len, mut pos) = varint(payload)?;
    let header_len = header_len as usize;
    let mut types = Vec::new();
    while pos < header_len {
        let (t, n) = varint(payload.get(pos..).ok_or("bad record header")?)?;
        types.push(t);
        pos += n;
    }
    let mut body = header_len;
    let mut values = Vec::with_capacity(types.len());
    for t in types {
        let len = match t {
            0 | 8 | 9 => 0,
            1..=4 => t as usize,
            5 => 6,
            6 | 7 => 8,
            n if n >= 12 => ((n - 12) / 2) as usize,
            _ => return Err("reserved serial type".into()),
        };
        let bytes = payload.get(body..body + len).ok_or("record past its payload")?;
        values.push(match t {
            0 => Value::Null,
            8 => Value::Int(0),
            9 => Value::Int(1),
            1..=6 => {
                let mut v: i64 = if bytes[0] & 0x80 != 0 { -1 } else { 0 };
                for b in bytes {
                    v = (v << 8) | *b as i64;
                }
                Value::Int(v)
            }
            n if n >= 13 && n % 2 == 1 => Value::Text(String::from_utf8_lossy(bytes).into_owned()),
            _ => Value::Other,
        });
        body += len;
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints() {
        assert_eq!(varint(&[0x05]).unwrap(), (5, 1));
        assert_eq!(varint(&[0x81, 0x00]).unwrap(), (128, 2));
        assert!(varint(&[0x81]).is_err());
    }

    #[test]
    fn reads_the_fixture() {
        // Made by tests/fixtures/make-rpmdb.py with Python's sqlite3: a Name table like rpm's,
        // with enough rows to need interior pages and one name long enough to overflow.
        let db = include_bytes!("../../tests/fixtures/rpmdb.sqlite");
        let names = package_names(db).unwrap();
        assert!(names.contains("openssh-server") && names.contains("chrony") && names.contains("audit"));
        assert!(names.contains(&format!("long-{}", "x".repeat(5000))));
        assert_eq!(names.len(), 1503);
        assert!(!names.contains("telnet"));
        assert!(package_names(b"not a database").is_err());
    }
}
