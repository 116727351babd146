//! Image operations on the metadata, with Docker's rules: removing a tag
//! versus deleting an image, what "force" may and may not override, which
//! images are dangling, and which layers are left unreferenced afterwards.

use std::collections::{BTreeSet, HashMap};

use crate::meta::{ImageRecord, LayerRecord, Meta, MetaError};
use crate::reference::{Reference, ReferenceError};

/// Errors of image operations, with Docker's texts.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The database failed.
    #[error(transparent)]
    Meta(#[from] MetaError),
    /// A malformed reference.
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    /// Nothing by that name or id.
    #[error("No such image: {0}")]
    NotFound(String),
    /// The id prefix names more than one image.
    #[error("ambiguous image id prefix {0}")]
    Ambiguous(String),
    /// Refused without force (or even with it).
    #[error("{0}")]
    Conflict(String),
}

/// Who uses an image: a container id and whether it runs.
pub type Users<'a> = &'a dyn Fn(&str) -> Vec<(String, bool)>;

/// What `remove` did, in Docker's order, for `docker rmi` to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removed {
    /// `Untagged: busybox:latest`.
    Untagged(String),
    /// `Deleted: sha256:…` (an image; the layers follow as garbage).
    Deleted(String),
}

fn short(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..hex.len().min(12)]
}

/// Finds an image by reference, full id, or unique id prefix (as Docker does:
/// a name first, then an id).
pub fn find(meta: &Meta, name: &str) -> Result<ImageRecord, ImageError> {
    if let Ok(r) = Reference::parse(name) {
        if let Some(d) = &r.digest {
            // `name@sha256:…`: the manifest digest a pull recorded.
            let want = format!("{}@{d}", r.familiar_name());
            if let Some(img) = meta
                .images()?
                .into_iter()
                .find(|i| i.repo_digests.contains(&want))
            {
                return Ok(img);
            }
        }
        if let Some(id) = meta.resolve(&r.clone().with_default_tag().to_string())? {
            return meta
                .image(&id)?
                .ok_or_else(|| ImageError::NotFound(name.into()));
        }
    }
    let hex = name.strip_prefix("sha256:").unwrap_or(name);
    if !hex.is_empty() && hex.len() <= 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        let mut found = meta.images()?.into_iter().filter(|i| {
            i.id.strip_prefix("sha256:")
                .unwrap_or(&i.id)
                .starts_with(hex)
        });
        if let Some(first) = found.next() {
            if found.next().is_some() {
                return Err(ImageError::Ambiguous(name.into()));
            }
            return Ok(first);
        }
    }
    // Docker names what it looked for, tag included.
    let shown = Reference::parse(name)
        .map(|r| r.with_default_tag().familiar())
        .unwrap_or_else(|_| name.to_string());
    Err(ImageError::NotFound(shown))
}

/// References that name `id`, normalized, sorted.
pub fn tags_of(meta: &Meta, id: &str) -> Result<Vec<String>, ImageError> {
    let mut refs: Vec<String> = meta
        .refs()?
        .into_iter()
        .filter(|(_, i)| i == id)
        .map(|(r, _)| r)
        .collect();
    refs.sort();
    Ok(refs)
}

/// `docker tag SOURCE TARGET`.
pub fn tag(meta: &Meta, source: &str, target: &str) -> Result<(), ImageError> {
    let image = find(meta, source)?;
    let r = Reference::parse(target)?;
    if r.digest.is_some() {
        return Err(ImageError::Conflict(
            "refusing to create a tag with a digest reference".into(),
        ));
    }
    let r = r.with_default_tag();
    // An `rmi` may have deleted the image since `find`: no tag naming nothing.
    meta.write(|w| {
        if w.image(&image.id)?.is_none() {
            return Err(ImageError::NotFound(source.to_string()));
        }
        w.tag(&r.to_string(), &image.id)?;
        Ok(())
    })?;
    Ok(())
}

/// `docker rmi [-f] NAME`: untags, and deletes the image once nothing names
/// or uses it. Returns what happened; the caller then collects garbage.
pub fn remove(
    meta: &Meta,
    name: &str,
    force: bool,
    users: Users<'_>,
) -> Result<Vec<Removed>, ImageError> {
    let image = find(meta, name)?;
    let tags = tags_of(meta, &image.id)?;
    let by_reference = Reference::parse(name)
        .ok()
        .map(|r| r.with_default_tag().to_string())
        .filter(|r| tags.contains(r));
    let mut using = users(&image.id);
    // A running user decides: such an image is never deleted.
    using.sort_by_key(|(_, running)| !running);
    let mut out = Vec::new();
    if let Some(r) = by_reference {
        // Removing one of several names only untags.
        if tags.len() > 1 {
            meta.write(|w| w.untag(&r))?;
            let familiar = Reference::parse(&r).map(|x| x.familiar()).unwrap_or(r);
            return Ok(vec![Removed::Untagged(familiar)]);
        }
        if let Some((c, _)) = using.first() {
            if !force {
                return Err(ImageError::Conflict(format!(
                    "conflict: unable to remove repository reference \"{name}\" (must force) - container {} is using its referenced image {}",
                    short(c),
                    short(&image.id)
                )));
            }
        }
    } else if tags.len() > 1 && !force {
        return Err(ImageError::Conflict(format!(
            "conflict: unable to delete {} (must be forced) - image is referenced in multiple repositories",
            short(&image.id)
        )));
    }
    if let Some((c, running)) = using.first() {
        let why = if *running {
            "cannot be forced) - image is being used by running container"
        } else {
            "must be forced) - image is being used by stopped container"
        };
        if *running || !force {
            // Untagging with force is still allowed; the image stays.
            if force {
                out.extend(untag_all(meta, &tags, None)?);
                return Ok(out);
            }
            return Err(ImageError::Conflict(format!(
                "conflict: unable to delete {} ({why} {})",
                short(&image.id),
                short(c)
            )));
        }
    }
    out.extend(untag_all(meta, &tags, Some(&image.id))?);
    Ok(out)
}

/// Removes every reference in `tags` and, with `delete`, that image, in one
/// transaction; returns what `docker rmi` prints. The image stays if a
/// reference not in `tags` names it by then: a tag or a pull of it that
/// committed after the caller listed its tags (the torture harness found a
/// pull's tag left naming an image an `rmi` had deleted).
fn untag_all(
    meta: &Meta,
    tags: &[String],
    delete: Option<&str>,
) -> Result<Vec<Removed>, ImageError> {
    let delete = meta.write(|w| {
        for t in tags {
            w.untag(t)?;
        }
        match delete {
            Some(id) if w.refs_to(id)?.is_empty() => {
                w.delete_image(id)?;
                Ok::<_, MetaError>(Some(id))
            }
            _ => Ok(None),
        }
    })?;
    let mut out: Vec<Removed> = tags
        .iter()
        .map(|t| {
            Removed::Untagged(
                Reference::parse(t)
                    .map(|x| x.familiar())
                    .unwrap_or(t.clone()),
            )
        })
        .collect();
    out.extend(delete.map(|id| Removed::Deleted(id.to_string())));
    Ok(out)
}

/// Images no reference names (and, with `all`, every image no container uses
/// either), for `image prune`.
pub fn prunable(meta: &Meta, all: bool, users: Users<'_>) -> Result<Vec<String>, ImageError> {
    let named: BTreeSet<String> = meta.refs()?.into_iter().map(|(_, id)| id).collect();
    Ok(meta
        .images()?
        .into_iter()
        .filter(|i| (all || !named.contains(&i.id)) && users(&i.id).is_empty())
        .map(|i| i.id)
        .collect())
}

/// Layers no image needs any more (a layer is needed by every image whose
/// stack contains it), for garbage collection; callers also keep layers that
/// containers are built on.
pub fn unreferenced_layers(meta: &Meta) -> Result<Vec<LayerRecord>, ImageError> {
    let layers: HashMap<String, LayerRecord> = meta
        .layers()?
        .into_iter()
        .map(|l| (l.chain_id.clone(), l))
        .collect();
    let mut needed = BTreeSet::new();
    for image in meta.images()? {
        let mut next = Some(image.top_layer.clone()).filter(|c| !c.is_empty());
        while let Some(chain) = next {
            if !needed.insert(chain.clone()) {
                break;
            }
            next = layers.get(&chain).and_then(|l| l.parent.clone());
        }
    }
    Ok(layers
        .into_values()
        .filter(|l| !needed.contains(&l.chain_id))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "sha256:abbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    fn setup() -> (tempfile::TempDir, Meta) {
        let d = tempfile::tempdir().unwrap();
        let meta = Meta::open(&d.path().join("m.redb")).unwrap();
        meta.write(|w| {
            w.put_layer(&LayerRecord {
                chain_id: "c1".into(),
                ..Default::default()
            })?;
            w.put_layer(&LayerRecord {
                chain_id: "c2".into(),
                parent: Some("c1".into()),
                ..Default::default()
            })?;
            w.put_layer(&LayerRecord {
                chain_id: "orphan".into(),
                ..Default::default()
            })?;
            w.put_image(&ImageRecord {
                id: A.into(),
                top_layer: "c2".into(),
                ..Default::default()
            })?;
            w.put_image(&ImageRecord {
                id: B.into(),
                top_layer: "c1".into(),
                ..Default::default()
            })?;
            w.tag("docker.io/library/busybox:latest", A)?;
            w.tag("docker.io/library/busybox:1", A)?;
            Ok::<_, MetaError>(())
        })
        .unwrap();
        (d, meta)
    }

    fn nobody(_: &str) -> Vec<(String, bool)> {
        Vec::new()
    }

    /// An `rmi` lists the image's tags, then untags and deletes in one
    /// transaction: a tag committed in between keeps the image.
    #[test]
    fn a_tag_made_after_rmi_listed_the_tags_keeps_the_image() {
        let (_d, meta) = setup();
        let listed = tags_of(&meta, A).unwrap();
        meta.write(|w| w.tag("docker.io/library/pulled:p", A))
            .unwrap();
        let out = untag_all(&meta, &listed, Some(A)).unwrap();
        assert!(
            !out.iter().any(|r| matches!(r, Removed::Deleted(_))),
            "{out:?}"
        );
        assert_eq!(find(&meta, "pulled:p").unwrap().id, A);
        assert!(meta.image(A).unwrap().is_some());
    }

    #[test]
    fn find_by_name_id_and_prefix() {
        let (_d, meta) = setup();
        assert_eq!(find(&meta, "busybox").unwrap().id, A);
        assert_eq!(find(&meta, "busybox:1").unwrap().id, A);
        assert_eq!(find(&meta, &A[7..19]).unwrap().id, A);
        assert_eq!(find(&meta, B).unwrap().id, B);
        assert!(matches!(find(&meta, "a"), Err(ImageError::Ambiguous(_))));
        assert!(matches!(find(&meta, "nope"), Err(ImageError::NotFound(_))));
    }

    #[test]
    fn rmi_untags_then_deletes() {
        let (_d, meta) = setup();
        assert_eq!(
            remove(&meta, "busybox:1", false, &nobody).unwrap(),
            [Removed::Untagged("busybox:1".into())]
        );
        let users = |id: &str| {
            if id == A {
                vec![("c0ffee000000aaaa".to_string(), false)]
            } else {
                vec![]
            }
        };
        let err = remove(&meta, "busybox", false, &users)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("container c0ffee000000 is using its referenced image aaaaaaaaaaaa"),
            "{err}"
        );
        assert_eq!(
            remove(&meta, "busybox", true, &nobody).unwrap(),
            [
                Removed::Untagged("busybox:latest".into()),
                Removed::Deleted(A.into())
            ]
        );
        assert!(meta.image(A).unwrap().is_none());
        // c2 now belongs to no image; c1 still to B; the orphan to none.
        let mut gone: Vec<String> = unreferenced_layers(&meta)
            .unwrap()
            .into_iter()
            .map(|l| l.chain_id)
            .collect();
        gone.sort();
        assert_eq!(gone, ["c2", "orphan"]);
    }

    #[test]
    fn rmi_by_id_with_several_tags_needs_force_and_running_containers_block() {
        let (_d, meta) = setup();
        let err = remove(&meta, A, false, &nobody).unwrap_err().to_string();
        assert!(err.contains("referenced in multiple repositories"), "{err}");
        let running = |id: &str| {
            if id == A {
                vec![("deadbeef0000".to_string(), true)]
            } else {
                vec![]
            }
        };
        let out = remove(&meta, A, true, &running).unwrap();
        assert_eq!(out.len(), 2, "untagged only: {out:?}");
        assert!(
            meta.image(A).unwrap().is_some(),
            "a running container keeps its image"
        );
        assert_eq!(prunable(&meta, false, &running).unwrap(), [B.to_string()]);
        assert_eq!(
            prunable(&meta, false, &nobody).unwrap(),
            [A.to_string(), B.to_string()]
        );
        tag(&meta, B, "me/app:v1").unwrap();
        assert_eq!(find(&meta, "me/app:v1").unwrap().id, B);
        assert!(tag(&meta, B, "Bad").is_err());
    }
}
