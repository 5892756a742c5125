//! Resolving a `file` table's `path` option into the files it reads.
//!
//! `path` is a file, a directory (every regular file directly in it,
//! sorted by name, hidden files skipped) or a glob (`data/*.csv`, sorted).
//! Relative paths are relative to the server's working directory. The list
//! is resolved again by every scan, so files added to a directory are read
//! by later queries.

use std::io;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::file::CONNECTOR_NAME;

/// The files that `path` names, in the order their parts are numbered.
///
/// # Errors
///
/// [`Error::NoFiles`] when nothing matches, [`Error::Io`] when a directory
/// cannot be listed, [`Error::InvalidOption`] for a malformed glob.
pub(crate) fn resolve_paths(path: &str) -> Result<Vec<PathBuf>> {
    if path.is_empty() {
        return Err(Error::InvalidOption {
            connector: CONNECTOR_NAME,
            option: "path".into(),
            value: String::new(),
            reason: "expected a file, directory or glob".into(),
        });
    }
    if is_glob(path) {
        return resolve_glob(path);
    }
    let p = Path::new(path);
    let meta = match std::fs::metadata(p) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(Error::NoFiles {
                path: path.to_string(),
                hint: " (no such file or directory)".into(),
            });
        }
        Err(e) => return Err(Error::io(path, e)),
    };
    if !meta.is_dir() {
        return Ok(vec![p.to_path_buf()]);
    }
    let entries = std::fs::read_dir(p).map_err(|e| Error::io(path, e))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(path, e))?;
        let file = entry.path();
        if is_hidden(&file) || !file.is_file() {
            continue;
        }
        files.push(file);
    }
    files.sort();
    if files.is_empty() {
        return Err(Error::NoFiles {
            path: path.to_string(),
            hint: " (the directory has no files)".into(),
        });
    }
    Ok(files)
}

fn is_glob(path: &str) -> bool {
    path.contains(['*', '?', '['])
}

fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.'))
}

fn resolve_glob(pattern: &str) -> Result<Vec<PathBuf>> {
    let options = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: true,
    };
    let matches = glob::glob_with(pattern, options).map_err(|e| Error::InvalidOption {
        connector: CONNECTOR_NAME,
        option: "path".into(),
        value: pattern.to_string(),
        reason: format!("invalid glob pattern: {}", e.msg),
    })?;
    let mut files = Vec::new();
    for m in matches {
        let file = m.map_err(|e| {
            let p = e.path().display().to_string();
            Error::io(p, e.into())
        })?;
        if file.is_file() && !is_hidden(&file) {
            files.push(file);
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(Error::NoFiles {
            path: pattern.to_string(),
            hint: String::new(),
        });
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(dir: &Path, name: &str) {
        std::fs::write(dir.join(name), "x\n").unwrap();
    }

    #[test]
    fn lists_a_directory_sorted_without_hidden_files_or_subdirectories() {
        let dir = tempfile::tempdir().unwrap();
        touch(dir.path(), "b.csv");
        touch(dir.path(), "a.csv");
        touch(dir.path(), ".hidden.csv");
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        touch(&dir.path().join("sub"), "c.csv");
        let files = resolve_paths(dir.path().to_str().unwrap()).unwrap();
        assert_eq!(
            files,
            vec![dir.path().join("a.csv"), dir.path().join("b.csv")]
        );
    }

    #[test]
    fn expands_a_glob() {
        let dir = tempfile::tempdir().unwrap();
        touch(dir.path(), "2.csv");
        touch(dir.path(), "1.csv");
        touch(dir.path(), "1.json");
        let pattern = format!("{}/*.csv", dir.path().display());
        let files = resolve_paths(&pattern).unwrap();
        assert_eq!(
            files,
            vec![dir.path().join("1.csv"), dir.path().join("2.csv")]
        );
    }

    #[test]
    fn no_match_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let missing = format!("{}/nope.csv", dir.path().display());
        let e = resolve_paths(&missing).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("no files match path '{missing}' (no such file or directory)")
        );
        let pattern = format!("{}/*.parquet", dir.path().display());
        let e = resolve_paths(&pattern).unwrap_err();
        assert_eq!(e.to_string(), format!("no files match path '{pattern}'"));
        let e = resolve_paths(dir.path().to_str().unwrap()).unwrap_err();
        assert!(
            e.to_string().ends_with("(the directory has no files)"),
            "{e}"
        );
    }
}
