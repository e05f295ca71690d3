//! The routing decision, pure: from what `observe` read (the distribution, the installed edge
//! function, the bucket's website configuration, policy and Block Public Access) and what the
//! user asked, what must change. No AWS call and no SDK type in what it returns; table-tested.

use serde::Serialize;

use crate::cdn::access_block::{self, AccessBlockStep};
use crate::cdn::distribution::{self, Edge, OriginKind};
use crate::cdn::edge::{FunctionAction, Installed};
use crate::cdn::edge_code::{self, EdgeCode};
use crate::cdn::kvs;
use crate::cdn::observe::Observed;
use crate::cdn::request::{Job, SetupError};
use crate::cdn::routing::{site_base, Routes};
use crate::cdn::website;
use crate::config::routing::Mode;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Step {
    Unchanged,
    Update,
}

impl Step {
    fn when(needed: bool) -> Step {
        if needed {
            Step::Update
        } else {
            Step::Unchanged
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct FunctionPlan {
    pub name: String,
    /// The function's runtime and the events it runs on, e.g. `cloudfront-function viewer-request`.
    pub kind: String,
    pub action: FunctionAction,
    /// Known when unchanged (or after apply).
    pub arn: Option<String>,
    /// Where the function finds the release's pages: `inline`, or the KeyValueStore's name.
    pub pages_in: String,
    /// Pages in the route table.
    pub pages: usize,
}

/// The KeyValueStore a private-mode function reads its pages from.
#[derive(Debug, Clone)]
pub(crate) struct StoreWrites {
    pub name: String,
    pub table: kvs::Table,
    /// The table of the release being replaced, which the store holds if the marker says so.
    pub previous: Option<kvs::Table>,
}

/// What happens to one cache behavior.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum BehaviorAction {
    /// An SPA behavior that gets the function.
    Associate,
    /// An SPA behavior that already runs it.
    Unchanged,
    /// Another origin's behavior (`/api/*`): never modified.
    Untouched,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct BehaviorPlan {
    pub path: String,
    pub spa: bool,
    pub action: BehaviorAction,
}

/// The routing changes a push makes (or, in a dry run, would make).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RoutingPlan {
    pub distribution: String,
    pub mode: Mode,
    pub origin: OriginKind,
    pub function: FunctionPlan,
    pub behaviors: Vec<BehaviorPlan>,
    pub origin_switch: Step,
    pub referer_header: Step,
    pub website: Step,
    pub public_access_block: AccessBlockStep,
    pub bucket_policy: Step,
    /// The KeyValueStore of a current function holds another table than its code names (a push
    /// cut short while writing it, or keys changed by hand): written again.
    pub route_store: Step,
    pub warnings: Vec<String>,
    #[serde(skip)]
    pub writes: Writes,
}

/// What `apply` writes, beyond the steps the report shows.
#[derive(Debug, Clone)]
pub(crate) struct Writes {
    pub code: String,
    /// The function as it is, against the code wanted.
    pub installed: Installed,
    /// The private-mode function also runs on viewer-response.
    pub viewer_response: bool,
    pub store: Option<StoreWrites>,
    /// The SPA origin and the behaviors that point at it.
    pub origin_id: String,
    pub spa_behaviors: Vec<String>,
    pub website: Option<website::Website>,
    pub policy: Option<String>,
    /// A new Referer secret for the origin (website mode, first setup).
    pub referer: Option<String>,
    /// The site's host for viewers, and the SPA origin's path.
    pub site_host: String,
    pub origin_path: String,
}

impl RoutingPlan {
    pub(crate) fn has_changes(&self) -> bool {
        self.function.action != FunctionAction::Unchanged
            || self
                .behaviors
                .iter()
                .any(|b| b.action == BehaviorAction::Associate)
            || self.public_access_block != AccessBlockStep::Unchanged
            || [
                self.origin_switch,
                self.referer_header,
                self.website,
                self.bucket_policy,
                self.route_store,
            ]
            .contains(&Step::Update)
    }

    /// Whether applying the plan updates the distribution itself (what a stack update reverts).
    pub(crate) fn changes_distribution(&self) -> bool {
        self.behaviors
            .iter()
            .any(|b| b.action == BehaviorAction::Associate)
            || self.origin_switch == Step::Update
            || self.referer_header == Step::Update
    }

    /// The site's host for viewers (redirect targets, verify).
    pub(crate) fn site_host(&self) -> &str {
        &self.writes.site_host
    }

    pub(crate) fn origin_path(&self) -> &str {
        &self.writes.origin_path
    }
}

/// The route table of a release (`keys`, relative to the target) as the distribution serves it.
pub(crate) fn route_table(
    observed: &Observed,
    job: &Job,
    keys: &[&str],
) -> Result<Routes, SetupError> {
    let origin_path =
        distribution::origin_path(&observed.dist.config, &observed.analysis.origin_id);
    let base = site_base(&job.prefix, &origin_path)?;
    Ok(Routes::derive(
        &job.request.rules,
        &base,
        keys.iter().copied(),
    )?)
}

/// Decides what must change for the release holding `keys` (replacing the one holding
/// `previous`); errors are what the user must fix first (a mode the origin does not serve,
/// website mode without consent, a policy that cannot be read, a route table the function cannot
/// hold).
pub(crate) fn decide(
    observed: &Observed,
    job: &Job,
    keys: &[&str],
    previous: Option<&[&str]>,
) -> Result<RoutingPlan, SetupError> {
    let dist = &observed.dist;
    let analysis = &observed.analysis;
    let detected = analysis.origin_kind.mode();
    let mode = job.mode(analysis);
    // Where the wiring checks run (content mode, `doctor`), they say what is wrong, with the fix.
    let content = job.content_only();
    let checked = job.checks_wiring();
    if mode != detected && !job.request.fix_origin && !checked {
        return Err(mode_mismatch(mode, &analysis.origin_id, &dist.id));
    }
    let routes = route_table(observed, job, keys)?;
    let owner = job.target_id();
    let previews = job.request.previews.as_ref();
    let EdgeCode { code, store } =
        edge_code::function_code(&routes, mode, false, &owner, previews)?;
    let name = job.function_name();
    if let Some(other) = observed.function.foreign_owner(&owner) {
        return Err(SetupError::Config(format!(
            "the edge function `{name}` serves another target (spadeploy target {other}; this one is \
             {owner}): two sites cannot share one function and its route table. Give this site its \
             own with [routing] function_name, or remove the setting that made them share a name"
        )));
    }
    let store = store.map(|table| StoreWrites {
        name: name.clone(),
        table,
        // A previous release the current rules cannot make a table of is listed instead.
        previous: previous
            .and_then(|keys| route_table(observed, job, keys).ok())
            .map(|routes| routes.lookup_table()),
    });
    let viewer_response = edge_code::needs_viewer_response(&routes, previews);
    let installed = observed.function.installed(&edge_code::code_hash(&code));
    let current_arn = match &installed {
        Installed::Current { arn } => Some(arn.clone()),
        _ => None,
    };
    // Code that is current names the table; the store must hold it too (its marker says so).
    let route_store = Step::when(
        matches!(installed, Installed::Current { .. })
            && store
                .as_ref()
                .is_some_and(|s| !observed.store.holds(&s.table)),
    );
    let has_oac = distribution::has_origin_access_control(&dist.config, &analysis.origin_id);
    // --fix-origin also attaches Origin Access Control to a private-mode origin without one.
    let origin_switch = Step::when(
        mode != detected || (mode == Mode::Private && job.request.fix_origin && !has_oac),
    );
    // Unsigned requests to a private bucket are refused: the site would answer 403 to everything.
    if mode == Mode::Private && !has_oac && !job.request.fix_origin && !checked {
        return Err(SetupError::Config(format!(
            "the SPA origin `{}` of distribution {} has no Origin Access Control, so CloudFront's \
             requests are unsigned and the private bucket answers 403 to every page: pass \
             --fix-origin to attach one (nothing was changed)",
            analysis.origin_id, dist.id
        )));
    }
    let warnings = analysis.warnings.clone();
    let bucket = match content {
        // Content mode never writes the bucket's configuration: the checks read it.
        true => BucketDecision {
            policy: None,
            referer: None,
            access: AccessBlockStep::Unchanged,
        },
        false => decide_bucket(observed, job, mode)?,
    };
    let site_host = dist.site_host();
    let website = match mode {
        Mode::Website => {
            let settings = &job.request.rules.settings;
            let error = routes.error_key(&settings.error_document);
            let desired = website::desired(settings, &error, &job.prefix);
            (observed.website.as_ref() != Some(&desired)).then_some(desired)
        }
        Mode::Private => None,
    };
    Ok(RoutingPlan {
        distribution: dist.id.clone(),
        mode,
        origin: analysis.origin_kind,
        function: FunctionPlan {
            name,
            kind: function_kind(mode, viewer_response),
            action: installed.action(),
            arn: current_arn.clone(),
            pages_in: store
                .as_ref()
                .map_or("inline".into(), |s| format!("KeyValueStore {}", s.name)),
            pages: routes.pages.len(),
        },
        behaviors: behaviors(observed, mode, current_arn.as_deref(), viewer_response),
        origin_switch,
        referer_header: Step::when(bucket.referer.is_some()),
        website: Step::when(website.is_some()),
        public_access_block: bucket.access,
        bucket_policy: Step::when(bucket.policy.is_some()),
        route_store,
        warnings,
        writes: Writes {
            code,
            installed,
            viewer_response,
            store,
            origin_id: analysis.origin_id.clone(),
            spa_behaviors: analysis.spa_behaviors.clone(),
            website,
            policy: bucket.policy,
            referer: bucket.referer,
            site_host,
            origin_path: distribution::origin_path(&dist.config, &analysis.origin_id),
        },
    })
}

/// What the plan calls the mode's function: its runtime and the events it runs on.
fn function_kind(mode: Mode, viewer_response: bool) -> String {
    let runtime = match mode {
        Mode::Website => "lambda@edge",
        Mode::Private => "cloudfront-function",
    };
    let events: Vec<&str> = edge_code::events(mode, viewer_response)
        .iter()
        .map(|e| e.name())
        .collect();
    format!("{runtime} {}", events.join(" + "))
}

fn mode_mismatch(mode: Mode, origin_id: &str, distribution: &str) -> SetupError {
    let (now, needed) = match mode {
        Mode::Website => (
            "the bucket's REST endpoint, which ignores the website error document",
            "the website endpoint",
        ),
        Mode::Private => (
            "the bucket's website endpoint",
            "the REST endpoint with Origin Access Control",
        ),
    };
    SetupError::Config(format!(
        "the SPA origin `{origin_id}` of distribution {distribution} is {now}; {mode} mode needs {needed}: pass --fix-origin to switch it, or set [routing] mode to match the origin"
    ))
}

/// SPA behaviors get the function unless they already run this version; the others are never
/// touched.
fn behaviors(
    observed: &Observed,
    mode: Mode,
    current_arn: Option<&str>,
    viewer_response: bool,
) -> Vec<BehaviorPlan> {
    let analysis = &observed.analysis;
    let spa = analysis.spa_behaviors.iter().map(|path| BehaviorPlan {
        path: path.clone(),
        spa: true,
        action: match current_arn {
            Some(arn)
                if distribution::carries(
                    &observed.dist.config,
                    path,
                    &Edge::new(mode, arn.to_string(), viewer_response),
                ) =>
            {
                BehaviorAction::Unchanged
            }
            _ => BehaviorAction::Associate,
        },
    });
    let others = analysis.other_behaviors.iter().map(|path| BehaviorPlan {
        path: path.clone(),
        spa: false,
        action: BehaviorAction::Untouched,
    });
    spa.chain(others).collect()
}

/// The bucket's side: the policy to write, a new Referer secret, Block Public Access.
struct BucketDecision {
    policy: Option<String>,
    referer: Option<String>,
    access: AccessBlockStep,
}

fn decide_bucket(observed: &Observed, job: &Job, mode: Mode) -> Result<BucketDecision, SetupError> {
    let target = job.policy_target();
    let current = observed.policy.as_deref();
    let mut referer = None;
    let mut relax_for_website = false;
    let statements = match mode {
        Mode::Private => target.private_statements(&observed.dist.arn),
        Mode::Website => {
            let ours = current.is_some_and(|p| target.has_website_read(p));
            let theirs = current.is_some_and(website::allows_public_read) && !ours;
            if theirs && !job.request.allow_public_read {
                // The bucket is already public by the user's own statement: spadeploy adds no
                // grant, but its state is still denied to every anonymous reader.
                vec![target.hide_state()]
            } else if !ours && !job.request.allow_public_read {
                return Err(no_consent(&job.bucket));
            } else {
                let existing = distribution::referer_secret(
                    &observed.dist.config,
                    &observed.analysis.origin_id,
                );
                let secret = existing.unwrap_or_else(|| {
                    referer = Some(observed.fresh_secret.clone());
                    observed.fresh_secret.clone()
                });
                // A rotation in flight (both values allowed) keeps the old value until every
                // edge location sends the new one.
                let allowed = current
                    .map(|p| target.allowed_referers(p))
                    .unwrap_or_default();
                let referers = if !observed.dist.deployed && allowed.contains(&secret) {
                    allowed
                } else {
                    vec![secret]
                };
                relax_for_website = true;
                target.website_statements(&referers)
            }
        }
    };
    let policy = target.merged_policy(current, statements)?;
    let public_grant_left = policy
        .as_deref()
        .or(current)
        .is_some_and(website::allows_public_read);
    let access = match mode {
        Mode::Website if !relax_for_website => AccessBlockStep::Unchanged,
        _ => access_block::decide(&observed.access, mode == Mode::Website, public_grant_left),
    };
    Ok(BucketDecision {
        policy,
        referer,
        access,
    })
}

fn no_consent(bucket: &str) -> SetupError {
    SetupError::Config(format!(
        "website mode serves bucket `{bucket}` through its website endpoint, which reads objects anonymously, \
         and the bucket policy allows no such reads. spadeploy never opens a bucket without consent: set \
         allow_public_read = true under [routing] (or pass --allow-public-read) to add a read policy limited \
         to requests carrying a secret Referer header that only this distribution sends (spadeploy's state \
         stays unreadable; where Block Public Access's BlockPublicPolicy or RestrictPublicBuckets is on, \
         spadeploy turns it off for this policy, records that in a bucket tag, and turns it back on once \
         no public grant is left), or use mode = \"private\" to keep the bucket private"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cdn::distribution::{Distribution, Edge};
    use crate::cdn::edge;
    use crate::cdn::fixtures::config_with_spa_on;
    use crate::cdn::request::RoutingRequest;
    use crate::config::routing::RouteRules;

    const WEBSITE: &str = "my-site.s3-website-us-east-1.amazonaws.com";
    const REST: &str = "my-site.s3.us-east-1.amazonaws.com";
    const ARN: &str = "arn:aws:cloudfront::1:distribution/E1";

    fn observed(spa_domain: &str) -> Observed {
        let dist = Distribution {
            id: "E1".into(),
            arn: ARN.into(),
            domain: "d111.cloudfront.net".into(),
            etag: "ETAG".into(),
            config: config_with_spa_on(spa_domain),
            deployed: true,
        };
        let analysis = distribution::analyze(&dist.config, "my-site", "E1").unwrap();
        Observed {
            dist,
            analysis,
            function: Default::default(),
            store: Default::default(),
            website: None,
            policy: None,
            access: Default::default(),
            fresh_secret: "spadeploy-fresh".into(),
            declared: None,
            stack: None,
        }
    }

    fn release() -> Vec<&'static str> {
        vec!["index.html", "about/index.html"]
    }

    fn job(mode: Option<Mode>, fix_origin: bool, allow_public_read: bool) -> Job {
        Job {
            request: RoutingRequest {
                distribution: "E1".into(),
                mode,
                rules: RouteRules::default(),
                fix_origin,
                allow_public_read,
                bucket_config: crate::cdn::iam::BucketConfig::Write,
                verify_store: false,
                manage: crate::config::manifest::Manage::All,
                iac: None,
                check_wiring: false,
                previews: None,
            },
            bucket: "my-site".into(),
            prefix: String::new(),
            region: "us-east-1".into(),
        }
    }

    /// What the distribution and bucket look like once `plan` was applied (the pure patches
    /// `apply` sends), with the function installed as `arn`.
    fn after(mut observed: Observed, plan: &RoutingPlan, arn: &str) -> Observed {
        let writes = &plan.writes;
        let mut config = observed.dist.config.clone();
        if plan.origin_switch == Step::Update {
            config = distribution::fix_origin(
                &config,
                &writes.origin_id,
                plan.mode,
                "my-site",
                "us-east-1",
                Some("OAC1"),
            )
            .unwrap();
        }
        if let Some(secret) = &writes.referer {
            config = distribution::with_referer(&config, &writes.origin_id, secret).unwrap();
        }
        let edge = Edge::new(plan.mode, arn.into(), writes.viewer_response);
        config =
            distribution::associate(&config, &writes.spa_behaviors, &edge, &plan.function.name)
                .unwrap();
        observed.dist.config = config;
        observed.analysis = distribution::analyze(&observed.dist.config, "my-site", "E1").unwrap();
        observed.function = edge::Published {
            exists: true,
            versions: vec![(edge_code::code_hash(&writes.code), arn.into())],
            ..Default::default()
        };
        observed.store.marker = writes.store.as_ref().map(|s| kvs::table_hash(&s.table));
        observed.website = writes.website.clone().or(observed.website);
        observed.policy = writes.policy.clone().or(observed.policy);
        observed
    }

    #[test]
    fn the_mode_follows_the_origin_unless_asked_and_a_mismatch_needs_fix_origin() {
        for (domain, asked, fix, expected) in [
            (WEBSITE, None, false, Ok(Mode::Website)),
            (REST, None, true, Ok(Mode::Private)),
            (REST, None, false, Err("no Origin Access Control")),
            (WEBSITE, Some(Mode::Website), false, Ok(Mode::Website)),
            (
                WEBSITE,
                Some(Mode::Private),
                false,
                Err("pass --fix-origin"),
            ),
            (REST, Some(Mode::Website), false, Err("pass --fix-origin")),
            (WEBSITE, Some(Mode::Private), true, Ok(Mode::Private)),
        ] {
            let decided = decide(&observed(domain), &job(asked, fix, true), &release(), None);
            match (decided, expected) {
                (Ok(plan), Ok(mode)) => {
                    assert_eq!(plan.mode, mode, "{domain} {asked:?}");
                    let switch = Step::when(fix);
                    assert_eq!(plan.origin_switch, switch, "{domain} {asked:?}");
                }
                (Err(err), Err(needle)) => {
                    assert!(err.to_string().contains(needle), "{err}");
                }
                (got, want) => panic!("{domain} {asked:?}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn website_mode_needs_consent_unless_the_bucket_is_already_public() {
        let err = decide(
            &observed(WEBSITE),
            &job(None, false, false),
            &release(),
            None,
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("never opens a bucket without consent"),
            "{err}"
        );

        let plan = decide(
            &observed(WEBSITE),
            &job(None, false, true),
            &release(),
            None,
        )
        .unwrap();
        assert_eq!(plan.referer_header, Step::Update);
        assert_eq!(plan.writes.referer.as_deref(), Some("spadeploy-fresh"));
        let policy = plan.writes.policy.as_deref().unwrap();
        assert!(policy.contains("spadeploy-fresh") && policy.contains("aws:Referer"));

        let mut public = observed(WEBSITE);
        public.policy = Some(
            r#"{"Statement":[{"Sid":"Mine","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::my-site/*"}]}"#.into(),
        );
        let plan = decide(&public, &job(None, false, false), &release(), None).unwrap();
        assert_eq!(
            plan.referer_header,
            Step::Unchanged,
            "no grant of ours is added"
        );
        let policy = plan.writes.policy.as_deref().unwrap();
        assert!(
            policy.contains("\"Mine\"") && policy.contains("aws:PrincipalArn"),
            "{policy}"
        );
        assert_eq!(plan.public_access_block, AccessBlockStep::Unchanged);
    }

    #[test]
    fn only_spa_behaviors_get_the_function() {
        let plan = decide(&observed(REST), &job(None, true, false), &release(), None).unwrap();
        let actions: Vec<_> = plan
            .behaviors
            .iter()
            .map(|b| (b.path.as_str(), b.spa, b.action))
            .collect();
        assert_eq!(
            actions,
            [
                ("*", true, BehaviorAction::Associate),
                ("/api/*", false, BehaviorAction::Untouched)
            ]
        );
    }

    #[test]
    fn private_mode_without_origin_access_control_is_refused_and_fix_origin_attaches_it() {
        let err = decide(&observed(REST), &job(None, false, false), &release(), None).unwrap_err();
        assert!(
            err.to_string().contains("no Origin Access Control")
                && err.to_string().contains("--fix-origin"),
            "{err}"
        );
        let plan = decide(&observed(REST), &job(None, true, false), &release(), None).unwrap();
        assert_eq!(plan.origin_switch, Step::Update);
        assert!(!plan
            .warnings
            .iter()
            .any(|w| w.contains("Origin Access Control")));
        let policy = plan.writes.policy.as_deref().unwrap();
        assert!(policy.contains(ARN) && !policy.contains("aws:Referer"));
    }

    #[test]
    fn once_applied_there_is_nothing_to_do_in_either_mode() {
        for (domain, job) in [
            (WEBSITE, job(None, false, true)),
            (REST, job(None, true, false)),
            (WEBSITE, job(Some(Mode::Private), true, false)),
        ] {
            let first = decide(&observed(domain), &job, &release(), None).unwrap();
            assert!(first.has_changes());
            let settled = after(observed(domain), &first, "arn:aws:edge:fn:1");
            let again = decide(&settled, &job, &release(), None).unwrap();
            assert!(
                !again.has_changes(),
                "{domain} {:?}: {again:#?}",
                job.request.mode
            );
            assert_eq!(again.function.arn.as_deref(), Some("arn:aws:edge:fn:1"));
            assert!(again
                .behaviors
                .iter()
                .all(|b| b.action != BehaviorAction::Associate));
        }
    }

    #[test]
    fn a_store_that_holds_another_table_than_the_current_code_is_repaired() {
        // Enough pages that the table moves to a KeyValueStore.
        let keys: Vec<String> = (0..2000)
            .map(|i| format!("page-{i}/index.html"))
            .chain(["index.html".to_string()])
            .collect();
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let j = job(None, true, false);
        let first = decide(&observed(REST), &j, &keys, None).unwrap();
        assert!(first.writes.store.is_some());
        let mut settled = after(observed(REST), &first, "arn:aws:edge:fn:1");
        assert!(!decide(&settled, &j, &keys, None).unwrap().has_changes());
        // A push cut short while writing the store (or keys deleted by hand and the marker
        // left): the code is current, the store is not.
        for marker in [Some("updating".to_string()), None] {
            settled.store.marker = marker;
            let again = decide(&settled, &j, &keys, None).unwrap();
            assert_eq!(again.function.action, FunctionAction::Unchanged);
            assert_eq!(again.route_store, Step::Update);
            assert!(again.has_changes());
        }
    }

    #[test]
    fn a_function_serving_another_target_is_never_taken_over() {
        let j = job(None, true, false);
        let mut taken = observed(REST);
        taken.function = edge::Published {
            exists: true,
            owners: vec!["another-target".into()],
            ..Default::default()
        };
        let err = decide(&taken, &j, &release(), None).unwrap_err();
        assert!(err.to_string().contains("serves another target"), "{err}");
    }

    #[test]
    fn a_rotation_in_flight_keeps_both_secrets_until_the_distribution_is_deployed() {
        let j = job(None, false, true);
        let first = decide(&observed(WEBSITE), &j, &release(), None).unwrap();
        let mut settled = after(observed(WEBSITE), &first, "arn:aws:edge:fn:1");
        let target = j.policy_target();
        let both = vec!["spadeploy-old".to_string(), "spadeploy-fresh".to_string()];
        settled.policy = target
            .merged_policy(settled.policy.as_deref(), target.website_statements(&both))
            .unwrap();
        settled.dist.deployed = false;
        let plan = decide(&settled, &j, &release(), None).unwrap();
        assert_eq!(
            plan.bucket_policy,
            Step::Unchanged,
            "still deploying: both stay"
        );
        settled.dist.deployed = true;
        let plan = decide(&settled, &j, &release(), None).unwrap();
        assert_eq!(
            plan.bucket_policy,
            Step::Update,
            "deployed: the old one goes"
        );
        assert!(!plan.writes.policy.unwrap().contains("spadeploy-old"));
    }
}
