use super::*;
use crate::images::testutil::{ImageSpec, TestStores};

const T1: &str = "2024-01-01T00:00:00Z";
const T2: &str = "2024-02-01T00:00:00.5Z";
const T3: &str = "2024-03-01T00:00:00Z";

fn opts(filters: &str) -> ListOptions {
    ListOptions {
        filters: Filters::from_json(filters).expect("filters"),
        api_version: 53,
        ..Default::default()
    }
}

fn ids(list: &[ImageSummary]) -> Vec<String> {
    list.iter().map(|s| s.id.clone()).collect()
}

#[test]
fn lists_newest_first_with_dockerd_fields() {
    let s = TestStores::new();
    let old = s.add(ImageSpec::new("old", T1).refs(&["busybox:latest", "busybox:1"]));
    let new = s.add(
        ImageSpec::new("new", T3)
            .refs(&["127.0.0.1:5000/berth/hello:v1"])
            .labels(serde_json::json!({"k": "v"})),
    );
    let untagged = s.add(ImageSpec::new("mid", T2));
    let list = list_images(&s.images, &s.content, &opts("")).unwrap();
    assert_eq!(
        ids(&list),
        vec![new.id.clone(), untagged.id.clone(), old.id.clone()]
    );
    let busybox = &list[2];
    assert_eq!(
        busybox.repo_tags.as_deref(),
        Some(&["busybox:1".to_string(), "busybox:latest".to_string()][..])
    );
    assert_eq!(busybox.repo_digests.as_deref(), Some(&[][..]));
    assert_eq!(busybox.labels, None);
    assert_eq!(busybox.created, 1704067200);
    assert_eq!(
        (busybox.size, busybox.shared_size, busybox.containers),
        (100, -1, -1)
    );
    assert_eq!(busybox.virtual_size, None);
    let json = serde_json::to_value(&list[1]).unwrap();
    assert_eq!(json["RepoTags"], serde_json::json!([]));
    assert_eq!(json["Labels"], serde_json::Value::Null);
    assert_eq!(json["ParentId"], "");
    assert!(json.get("VirtualSize").is_none());
    assert_eq!(
        list[0]
            .labels
            .as_ref()
            .and_then(|l| l.get("k"))
            .and_then(|v| v.as_str()),
        Some("v")
    );
}

#[test]
fn old_api_versions_show_none_and_virtual_size() {
    let s = TestStores::new();
    s.add(ImageSpec::new("a", T1));
    let list = list_images(
        &s.images,
        &s.content,
        &ListOptions {
            api_version: 41,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        list[0].repo_tags.as_deref(),
        Some(&["<none>:<none>".to_string()][..])
    );
    assert_eq!(
        list[0].repo_digests.as_deref(),
        Some(&["<none>@<none>".to_string()][..])
    );
    assert_eq!(list[0].virtual_size, Some(100));
}

#[test]
fn filters_dangling_reference_label_and_times() {
    let s = TestStores::new();
    let a = s.add(
        ImageSpec::new("a", T1)
            .refs(&["busybox:latest"])
            .labels(serde_json::json!({"tier": "web"})),
    );
    let b = s.add(ImageSpec::new("b", T2));
    let c = s.add(ImageSpec::new("c", T3).refs(&["127.0.0.1:5000/berth/hello:v1"]));
    let l = |f: &str| ids(&list_images(&s.images, &s.content, &opts(f)).unwrap());
    assert_eq!(l(r#"{"dangling":["true"]}"#), vec![b.id.clone()]);
    assert_eq!(
        l(r#"{"dangling":["false"]}"#),
        vec![c.id.clone(), a.id.clone()]
    );
    assert_eq!(l(r#"{"reference":["busy*"]}"#), vec![a.id.clone()]);
    assert_eq!(l(r#"{"reference":["*/berth/*"]}"#), vec![c.id.clone()]);
    assert_eq!(l(r#"{"label":["tier=web"]}"#), vec![a.id.clone()]);
    assert_eq!(l(r#"{"label":["tier=db"]}"#), Vec::<String>::new());
    assert_eq!(
        l(r#"{"before":["127.0.0.1:5000/berth/hello:v1"]}"#),
        vec![b.id.clone(), a.id.clone()]
    );
    assert_eq!(
        l(r#"{"since":["busybox"]}"#),
        vec![c.id.clone(), b.id.clone()]
    );
    assert_eq!(
        l(r#"{"until":["2024-01-15T00:00:00Z"]}"#),
        vec![a.id.clone()]
    );
}

#[test]
fn refuses_unknown_filters_and_bad_values() {
    let s = TestStores::new();
    let err = list_images(&s.images, &s.content, &opts(r#"{"foo":["x"]}"#)).unwrap_err();
    assert_eq!(err.to_string(), "invalid filter 'foo'");
    let err = list_images(&s.images, &s.content, &opts(r#"{"dangling":["yes"]}"#)).unwrap_err();
    assert_eq!(err.to_string(), "invalid filter 'dangling=[yes]'");
    let err = list_images(&s.images, &s.content, &opts(r#"{"before":["nope"]}"#)).unwrap_err();
    assert_eq!(err.to_string(), "No such image: nope:latest");
}

#[test]
fn hides_untagged_parents_unless_all() {
    let s = TestStores::new();
    let parent = s.add(ImageSpec::new("p", T1));
    let child = s.add(ImageSpec::new("c", T2).parent(&parent.id).refs(&["app:1"]));
    let l = |all: bool| {
        ids(&list_images(
            &s.images,
            &s.content,
            &ListOptions {
                all,
                api_version: 53,
                ..Default::default()
            },
        )
        .unwrap())
    };
    assert_eq!(l(false), vec![child.id.clone()]);
    assert_eq!(l(true), vec![child.id.clone(), parent.id.clone()]);
    let dangling =
        ids(&list_images(&s.images, &s.content, &opts(r#"{"dangling":["true"]}"#)).unwrap());
    assert!(dangling.is_empty());
}

#[test]
fn shared_size_counts_common_layers() {
    let s = TestStores::new();
    s.add(
        ImageSpec::new("a", T1)
            .layers(&[("base", 10), ("a", 5)])
            .refs(&["a:1"]),
    );
    s.add(
        ImageSpec::new("b", T2)
            .layers(&[("base", 10), ("b", 7)])
            .refs(&["b:1"]),
    );
    let mut o = opts("");
    o.shared_size = true;
    let list = list_images(&s.images, &s.content, &o).unwrap();
    assert_eq!(
        list.iter()
            .map(|s| (s.size, s.shared_size))
            .collect::<Vec<_>>(),
        vec![(17, 10), (15, 10)]
    );
}
