//! Tests of `mounts::parse`: dockerd's syntax and messages.
use super::*;
use bollard_stubs::models::{MountImageOptions, MountTmpfsOptions, MountVolumeOptions};

#[test]
fn binds() {
    let r = parse_bind("/host/dir/:/data:ro").unwrap();
    assert_eq!(r.kind, MountKind::Bind);
    assert_eq!(
        (r.source.as_str(), r.destination.as_str()),
        ("/host/dir", "/data")
    );
    assert!(!r.rw && r.create_source);
    assert_eq!(
        (r.mode.as_str(), r.propagation.as_str()),
        ("ro", "rprivate")
    );
    let r = parse_bind("/h:/d:rshared,z").unwrap();
    assert_eq!(r.propagation, "rshared");
    let r = parse_bind("named:/data:nocopy").unwrap();
    assert_eq!(r.kind, MountKind::Volume);
    assert_eq!(r.source, "named");
    assert!(r.rw && !r.copy_data);
    let r = parse_bind("/anon").unwrap();
    assert_eq!((r.kind, r.source.as_str()), (MountKind::Volume, ""));
    assert!(r.copy_data);
}

#[test]
fn bad_binds_get_dockers_messages() {
    assert_eq!(parse_bind("/h:/d:foo").unwrap_err(), "invalid mode: foo");
    assert_eq!(
        parse_bind("/h:/d:ro,rw").unwrap_err(),
        "invalid mode: ro,rw"
    );
    assert_eq!(
        parse_bind("ab:x").unwrap_err(),
        "invalid volume specification: 'ab:x': invalid mount config for type \"volume\": invalid mount path: 'x' mount path must be absolute"
    );
    assert_eq!(
        parse_bind("/x:rw").unwrap_err(),
        "invalid volume specification: '/x:rw'"
    );
    assert_eq!(
        parse_bind("a::b").unwrap_err(),
        "invalid volume specification: 'a::b'"
    );
    assert_eq!(
        parse_bind("/a:/b:ro:x").unwrap_err(),
        "invalid volume specification: '/a:/b:ro:x'"
    );
    assert!(parse_bind("/tmp:/")
        .unwrap_err()
        .contains("destination can't be '/'"));
}

#[test]
fn mounts() {
    let none = |_: &str| false;
    let bind = Mount {
        typ: Some(MountType::BIND),
        source: Some("/nonexist".into()),
        target: Some("/x".into()),
        ..Default::default()
    };
    assert_eq!(
        parse_mount(&bind, none).unwrap_err(),
        "invalid mount config for type \"bind\": bind source path does not exist: /nonexist"
    );
    let r = parse_mount(&bind, |_| true).unwrap();
    assert_eq!(
        (r.propagation.as_str(), r.create_source),
        ("rprivate", false)
    );
    let tmpfs = Mount {
        typ: Some(MountType::TMPFS),
        target: Some("/t".into()),
        read_only: Some(true),
        tmpfs_options: Some(MountTmpfsOptions {
            size_bytes: Some(64 << 20),
            mode: Some(0o1700),
            options: None,
        }),
        ..Default::default()
    };
    let r = parse_mount(&tmpfs, none).unwrap();
    assert_eq!(r.tmpfs_options, vec!["ro", "mode=1700", "size=64m"]);
    assert!(!r.rw);
    let vol = Mount {
        typ: Some(MountType::VOLUME),
        source: Some("v1".into()),
        target: Some("/v".into()),
        volume_options: Some(MountVolumeOptions {
            no_copy: Some(true),
            ..Default::default()
        }),
        ..Default::default()
    };
    let r = parse_mount(&vol, none).unwrap();
    assert!(!r.copy_data);
    let anon_ro = Mount {
        typ: Some(MountType::VOLUME),
        target: Some("/v".into()),
        read_only: Some(true),
        ..Default::default()
    };
    assert!(parse_mount(&anon_ro, none)
        .unwrap_err()
        .contains("must not set ReadOnly mode when using anonymous volumes"));
    let no_target = Mount {
        typ: Some(MountType::TMPFS),
        ..Default::default()
    };
    assert_eq!(
        parse_mount(&no_target, none).unwrap_err(),
        "invalid mount config for type \"tmpfs\": field Target must not be empty"
    );
}

#[test]
fn volumes_from_and_paths() {
    assert_eq!(parse_volumes_from("data").unwrap(), ("data".into(), true));
    assert_eq!(
        parse_volumes_from("data:ro").unwrap(),
        ("data".into(), false)
    );
    assert_eq!(parse_volumes_from("data:x").unwrap_err(), "invalid mode: x");
    assert_eq!(clean_path("/a//b/../c/"), "/a/c");
    assert_eq!(clean_path("/../.."), "/");
}

#[test]
fn volume_subpaths_are_relative_and_named_volumes_only() {
    let with = |source: Option<&str>, subpath: &str| Mount {
        typ: Some(MountType::VOLUME),
        source: source.map(str::to_string),
        target: Some("/v".into()),
        volume_options: Some(MountVolumeOptions {
            subpath: Some(subpath.into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let none = |_: &str| false;
    let r = parse_mount(&with(Some("data"), "a/b"), none).unwrap();
    assert_eq!(r.subpath.as_deref(), Some("a/b"));
    // An empty subpath is no subpath.
    assert_eq!(
        parse_mount(&with(Some("data"), ""), none).unwrap().subpath,
        None
    );
    assert_eq!(
        parse_mount(&with(None, "a"), none).unwrap_err(),
        "invalid mount config for type \"volume\": must not set Subpath when using anonymous volumes"
    );
    for bad in ["/abs", "..", "../x", "a/../../x", "a/../.."] {
        assert_eq!(
            parse_mount(&with(Some("data"), bad), none).unwrap_err(),
            "invalid mount config for type \"volume\": subpath must be a relative path within the volume",
            "{bad}"
        );
    }
    for good in [".", "a/..", "a/../b", "./a//b/"] {
        assert!(is_local(good), "{good}");
    }
}

#[test]
fn image_mounts_are_read_only_and_take_only_image_options() {
    let image = |subpath: Option<&str>, read_only: Option<bool>| Mount {
        typ: Some(MountType::IMAGE),
        source: Some("busybox".into()),
        target: Some("/img".into()),
        read_only,
        image_options: subpath.map(|s| MountImageOptions {
            subpath: Some(s.into()),
        }),
        ..Default::default()
    };
    let none = |_: &str| false;
    let r = parse_mount(&image(Some("etc"), Some(false)), none).unwrap();
    assert_eq!(r.kind, MountKind::Image);
    assert_eq!(r.source, "busybox");
    assert!(!r.rw, "an image mount is read-only whatever was asked");
    assert_eq!(r.subpath.as_deref(), Some("etc"));
    assert_eq!(r.propagation, "rprivate");
    assert_eq!(
        parse_mount(&image(Some("../x"), None), none).unwrap_err(),
        "invalid mount config for type \"image\": subpath must be a relative path within the volume"
    );
    let mut with_volume_options = image(None, None);
    with_volume_options.volume_options = Some(MountVolumeOptions::default());
    assert_eq!(
        parse_mount(&with_volume_options, none).unwrap_err(),
        "invalid mount config for type \"image\": field VolumeOptions must not be specified"
    );
    let mut no_source = image(None, None);
    no_source.source = None;
    assert_eq!(
        parse_mount(&no_source, none).unwrap_err(),
        "invalid mount config for type \"image\": field Source must not be empty"
    );
    let mut hc = HostConfig {
        mounts: Some(vec![image(None, None)]),
        ..Default::default()
    };
    assert_eq!(
        for_api_version(&mut hc, 47).unwrap_err(),
        r#"Mount type "Image" needs API v1.48 or newer"#
    );
    assert!(for_api_version(&mut hc, 48).is_ok());
}
