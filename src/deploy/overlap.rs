//! A local target inside the build (or the build inside it) is refused: a push would upload its
//! own state, or delete its own build.

use super::*;

/// A local target inside the build (or the reverse) would deploy into itself.
pub(super) fn refuse_overlap(dir: &Path, target: &Path) -> Result<()> {
    let dir_abs = resolved(dir);
    let target_abs = resolved(target);
    if target_abs.starts_with(&dir_abs) || dir_abs.starts_with(&target_abs) {
        bail!(
            "the target {} and the build directory {} overlap: deploy to a folder outside the build",
            target.display(),
            dir.display()
        );
    }
    Ok(())
}

/// Where `path` really is: absolute, `..` and `.` applied, and every symbolic link along the part
/// that exists resolved (a target that does not exist yet still resolves through its parents).
pub(super) fn resolved(path: &Path) -> PathBuf {
    use std::path::Component;
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut out = PathBuf::new();
    for part in absolute.components() {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => {
                out.push(other);
                if let Ok(real) = out.canonicalize() {
                    out = real;
                }
            }
        }
    }
    out
}
