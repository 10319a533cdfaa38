//! Local stand-ins for the images CAPD runs, for machines without a registry: a root filesystem
//! holding a static busybox (Debian's `busybox-static`) with `sleep` and `sh` linked to it, imported
//! (`docker import`) under the exact names CAPD uses, so mirrored containers carry the right image
//! names. Shared with the conformance backend's tests.

use bollard::query_parameters::CreateImageOptions;
use bollard::Docker;
use futures::StreamExt;
use std::path::{Path, PathBuf};

/// The images CAPD runs in the scenarios and quick-starts (node images of the fixtures' Kubernetes
/// versions, and the HAProxy load balancer).
pub const CAPD_IMAGES: &[&str] = &["kindest/node:v1.34.3", "kindest/node:v1.35.0", "kindest/haproxy:v20230606-42a2262b"];

/// Where `busybox-static` installs its binary.
pub const BUSYBOX_PATHS: &[&str] = &["/bin/busybox", "/usr/bin/busybox"];

/// Connect to the local Docker Engine (`DOCKER_HOST` or the default socket), agree on an API
/// version (the engine here speaks 1.41) and check it answers.
pub async fn connect() -> Result<Docker, String> {
    let docker = Docker::connect_with_defaults().map_err(|e| format!("cannot connect to Docker: {e}"))?;
    let docker = docker.negotiate_version().await.map_err(|e| format!("Docker is not reachable: {e}"))?;
    docker.ping().await.map_err(|e| format!("Docker is not reachable: {e}"))?;
    Ok(docker)
}

/// A statically linked busybox, or why there is none (install `busybox-static`).
pub fn find_static_busybox() -> Result<PathBuf, String> {
    for p in BUSYBOX_PATHS {
        let path = Path::new(p);
        let Ok(bytes) = std::fs::read(path) else { continue };
        return match elf_is_static(&bytes) {
            Some(true) => Ok(path.to_path_buf()),
            Some(false) => {
                Err(format!("{p} is dynamically linked; install the `busybox-static` package (apt-get install -y busybox-static)"))
            }
            None => Err(format!("{p} is not a 64-bit ELF executable")),
        };
    }
    Err("no busybox found; install the `busybox-static` package (apt-get install -y busybox-static)".into())
}

/// Whether a 64-bit little-endian ELF has no program interpreter (`PT_INTERP`), i.e. runs in an
/// empty root filesystem. `None` when it is not such an ELF.
fn elf_is_static(b: &[u8]) -> Option<bool> {
    if b.len() < 64 || &b[..4] != b"\x7fELF" || b[4] != 2 || b[5] != 1 {
        return None;
    }
    let u16_at = |o: usize| b.get(o..o + 2).map(|s| u16::from_le_bytes([s[0], s[1]]));
    let phoff = u64::from_le_bytes(b.get(0x20..0x28)?.try_into().ok()?) as usize;
    let phentsize = u16_at(0x36)? as usize;
    let phnum = u16_at(0x38)? as usize;
    for i in 0..phnum {
        let at = phoff.checked_add(i.checked_mul(phentsize)?)?;
        let p_type = u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?);
        if p_type == 3 {
            return Some(false);
        }
    }
    Some(true)
}

/// One ustar header block.
fn tar_header(name: &str, mode: u32, size: u64, typeflag: u8, link: &str) -> [u8; 512] {
    let mut h = [0u8; 512];
    let put = |h: &mut [u8; 512], at: usize, len: usize, s: &[u8]| h[at..at + s.len().min(len)].copy_from_slice(&s[..s.len().min(len)]);
    put(&mut h, 0, 100, name.as_bytes());
    put(&mut h, 100, 8, format!("{mode:07o}\0").as_bytes());
    put(&mut h, 108, 8, b"0000000\0");
    put(&mut h, 116, 8, b"0000000\0");
    put(&mut h, 124, 12, format!("{size:011o}\0").as_bytes());
    put(&mut h, 136, 12, b"00000000000\0");
    h[156] = typeflag;
    put(&mut h, 157, 100, link.as_bytes());
    put(&mut h, 257, 6, b"ustar\0");
    put(&mut h, 263, 2, b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| b as u32).sum();
    put(&mut h, 148, 8, format!("{sum:06o}\0 ").as_bytes());
    h
}

/// A root filesystem tarball: `/bin/busybox`, `/bin/sleep` and `/bin/sh` linked to it, `/tmp`.
pub fn rootfs_tar(busybox: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(busybox.len() + 8192);
    out.extend_from_slice(&tar_header("bin/", 0o755, 0, b'5', ""));
    out.extend_from_slice(&tar_header("tmp/", 0o1777, 0, b'5', ""));
    out.extend_from_slice(&tar_header("bin/busybox", 0o755, busybox.len() as u64, b'0', ""));
    out.extend_from_slice(busybox);
    out.resize(out.len().div_ceil(512) * 512, 0);
    for applet in ["sleep", "sh"] {
        out.extend_from_slice(&tar_header(&format!("bin/{applet}"), 0o777, 0, b'2', "busybox"));
    }
    out.resize(out.len() + 1024, 0);
    out
}

/// Make sure every image in `images` exists locally, importing the busybox root filesystem under
/// each missing name. Images already present (real ones included) are left alone. Returns the
/// names imported.
pub async fn ensure_images(docker: &Docker, images: &[&str]) -> Result<Vec<String>, String> {
    let mut missing = Vec::new();
    for image in images {
        if docker.inspect_image(image).await.is_err() {
            missing.push(*image);
        }
    }
    if missing.is_empty() {
        return Ok(Vec::new());
    }
    let busybox = find_static_busybox()?;
    let bytes = std::fs::read(&busybox).map_err(|e| format!("{}: {e}", busybox.display()))?;
    let tar = bytes::Bytes::from(rootfs_tar(&bytes));
    let mut imported = Vec::new();
    for image in missing {
        let (repo, tag) = image.rsplit_once(':').unwrap_or((image, "latest"));
        let opts = CreateImageOptions { from_src: Some("-".into()), repo: Some(repo.into()), tag: Some(tag.into()), ..Default::default() };
        let mut progress = docker.create_image(Some(opts), Some(bollard::body_full(tar.clone())), None);
        while let Some(item) = progress.next().await {
            item.map_err(|e| format!("docker import {image}: {e}"))?;
        }
        docker.inspect_image(image).await.map_err(|e| format!("docker import {image} did not produce the image: {e}"))?;
        imported.push(image.to_string());
    }
    Ok(imported)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tar_layout() {
        let t = rootfs_tar(&[1, 2, 3]);
        assert_eq!(t.len() % 512, 0);
        assert_eq!(&t[257..262], b"ustar");
        assert_eq!(&t[1024..1035], b"bin/busybox");
        // The checksum covers the header with the checksum field read as spaces.
        let h = &t[..512];
        let mut copy = h.to_vec();
        copy[148..156].copy_from_slice(b"        ");
        let sum: u32 = copy.iter().map(|&b| b as u32).sum();
        assert_eq!(std::str::from_utf8(&h[148..154]).unwrap(), format!("{sum:06o}"));
    }

    #[test]
    fn elf_detection() {
        assert_eq!(elf_is_static(b"not an elf"), None);
        if let Ok(exe) = std::env::current_exe() {
            // Test binaries are dynamically linked on glibc targets.
            let b = std::fs::read(exe).unwrap();
            assert!(elf_is_static(&b).is_some());
        }
    }
}
