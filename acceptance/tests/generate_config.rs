//! `terraform plan -generate-config-out` for each of the seven resource types: the object is
//! created with a non-trivial spec through Terraform, then a *fresh* working directory holding
//! only the provider configuration and an `import {}` block (no resource block) generates its
//! HCL; applying that plan imports the object with no change, the re-plan is empty and the
//! imported attributes equal the ones Terraform applied.
//! Run with `cargo test -p appmesh-acceptance --test generate_config`.

#![allow(clippy::unwrap_used)]

use appmesh_acceptance::{
    assert_same_attributes, bare_node_hcl, import_block, listeners_hcl, mesh_hcl, node_service_hcl,
    provider_bin, provider_config, random_name, resource_type, router_hcl, Action, Api, Plan,
    State, Step, Terraform, TestCase,
};

/// The file the generated configuration is written to.
const GENERATED: &str = "gen.tf";

/// Computed-only attributes: Terraform leaves them out of generated configuration.
const COMPUTED_ONLY: &[&str] = &[
    "arn",
    "created_date",
    "last_updated_date",
    "resource_owner",
    "tags_all",
];

/// Imports `address` (whose object `applied` describes) into a fresh directory through an
/// `import {}` block plus `-generate-config-out`, and checks the result. `snippets` must
/// appear in the generated HCL (whitespace-insensitive).
fn generate_in_fresh_dir(api: &Api, applied: &State, address: &str, id: &str, snippets: &[&str]) {
    let tmp = tempfile::Builder::new()
        .prefix("appmesh-acc-gen-")
        .tempdir()
        .unwrap();
    let work = tmp.path().join("work");
    std::fs::create_dir(&work).unwrap();
    eprintln!("fresh working directory {}", work.display());
    let tf = Terraform::new(&work, tmp.path(), &provider_bin());
    std::fs::write(work.join("provider.tf"), provider_config(api.endpoint())).unwrap();
    std::fs::write(work.join("import.tf"), import_block(address, id)).unwrap();

    let gen_arg = format!("-generate-config-out={GENERATED}");
    let out = tf.run(&[
        "plan",
        "-input=false",
        "-no-color",
        "-out=tfplan",
        gen_arg.as_str(),
    ]);
    let generated = std::fs::read_to_string(work.join(GENERATED))
        .unwrap_or_else(|e| panic!("{GENERATED} was not written ({e})\n{}", out.report()));
    eprintln!("--- {GENERATED} ---\n{generated}");
    assert!(
        out.success(),
        "plan with -generate-config-out failed\n{}",
        out.report()
    );

    // The generated HCL: one resource block, the configured values, no computed-only ones.
    let (ty, name) = address.split_once('.').unwrap();
    assert_eq!(ty, resource_type(address));
    assert!(
        generated.contains(&format!("resource \"{ty}\" \"{name}\" {{")),
        "{GENERATED} declares {address}"
    );
    let squashed = squash(&generated);
    for snippet in snippets {
        assert!(
            squashed.contains(&squash(snippet)),
            "{GENERATED} lacks {snippet:?}"
        );
    }
    for attr in COMPUTED_ONLY {
        let assigned = generated
            .lines()
            .any(|l| l.trim_start().starts_with(&format!("{attr} ")));
        assert!(!assigned, "{GENERATED} sets the computed-only {attr}");
    }

    // The plan imports with no change.
    let show = tf.ok(&["show", "-json", "-no-color", "tfplan"]);
    let plan = Plan::from_show_json(serde_json::from_str(&show.stdout).unwrap());
    let change = plan
        .change(address)
        .unwrap_or_else(|| panic!("no planned change for {address}\n{}", out.stdout));
    assert_eq!(change.importing.as_deref(), Some(id), "{}", out.stdout);
    assert_eq!(change.actions, [Action::NoOp], "{}", out.stdout);
    assert!(
        plan.effective_actions().is_empty(),
        "importing must change nothing\n{}",
        out.stdout
    );

    tf.apply(Some("tfplan"));
    let re_plan = tf.plan_detailed();
    assert_eq!(
        re_plan.code,
        Some(0),
        "the re-plan with the generated configuration must be empty\n{}",
        re_plan.report()
    );

    // The imported state equals what Terraform applied in the first directory.
    let before = applied.flat(address);
    let after = tf.state().flat(address);
    assert_same_attributes(address, &before, &after, &[]);
}

/// `s` without any whitespace.
fn squash(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

/// Applies `config`, generates configuration for `address` in a fresh directory, then
/// destroys everything from the first directory.
fn run(config: String, address: &'static str, id: String, snippets: &[&str]) {
    let snippets: Vec<String> = snippets.iter().map(|s| (*s).to_owned()).collect();
    TestCase::new().run(vec![Step::apply(config).check(move |state, api| {
        let snippets: Vec<&str> = snippets.iter().map(String::as_str).collect();
        generate_in_fresh_dir(api, state, address, &id, &snippets)
    })]);
}

#[test]
fn mesh() {
    let mesh = random_name();
    let config = format!(
        r#"
resource "appmesh_mesh" "test" {{
  name = "{mesh}"

  spec {{
    egress_filter {{
      type = "ALLOW_ALL"
    }}

    service_discovery {{
      ip_preference = "IPv4_ONLY"
    }}
  }}

  tags = {{
    Team = "core"
  }}
}}
"#
    );
    run(
        config,
        "appmesh_mesh.test",
        mesh,
        &[
            r#"type = "ALLOW_ALL""#,
            r#"ip_preference = "IPv4_ONLY""#,
            r#"Team = "core""#,
        ],
    );
}

#[test]
fn virtual_service() {
    let (mesh, router) = (random_name(), random_name());
    let config = format!(
        r#"{mesh_block}{router_block}
resource "appmesh_virtual_service" "test" {{
  name      = "svc.{mesh}.local"
  mesh_name = appmesh_mesh.test.id

  spec {{
    provider {{
      virtual_router {{
        virtual_router_name = appmesh_virtual_router.test.name
      }}
    }}
  }}

  tags = {{
    Name = "svc"
  }}
}}
"#,
        mesh_block = mesh_hcl(&mesh),
        router_block = router_hcl("test", &router, "http", &[8080, 8081])
    );
    let provider = format!(r#"virtual_router {{ virtual_router_name = "{router}" }}"#);
    run(
        config,
        "appmesh_virtual_service.test",
        format!("{mesh}/svc.{mesh}.local"),
        &[&provider, r#"Name = "svc""#],
    );
}

#[test]
fn virtual_node() {
    let (mesh, node) = (random_name(), random_name());
    let config = format!(
        r#"{mesh_block}
resource "appmesh_virtual_node" "test" {{
  name      = "{node}"
  mesh_name = appmesh_mesh.test.id

  spec {{
    listener {{
      port_mapping {{
        port     = 8080
        protocol = "http"
      }}

      health_check {{
        protocol            = "http"
        path                = "/ping"
        healthy_threshold   = 2
        unhealthy_threshold = 3
        timeout_millis      = 2000
        interval_millis     = 5000
      }}

      connection_pool {{
        http {{
          max_connections      = 10
          max_pending_requests = 20
        }}
      }}

      timeout {{
        http {{
          per_request {{
            unit  = "s"
            value = 0
          }}
        }}
      }}
    }}

    backend {{
      virtual_service {{
        virtual_service_name = "servicea.{mesh}.local"
      }}
    }}

    backend {{
      virtual_service {{
        virtual_service_name = "serviceb.{mesh}.local"

        client_policy {{
          tls {{
            enforce = false
            ports   = [443, 8443]

            validation {{
              trust {{
                file {{
                  certificate_chain = "/certs/ca.pem"
                }}
              }}
            }}
          }}
        }}
      }}
    }}

    service_discovery {{
      dns {{
        hostname      = "node.{mesh}.local"
        response_type = "ENDPOINTS"
      }}
    }}

    logging {{
      access_log {{
        file {{
          path = "/dev/stdout"

          format {{
            json {{
              key   = "status"
              value = "%RESPONSE_CODE%"
            }}

            json {{
              key   = "path"
              value = "%REQ(:PATH)%"
            }}
          }}
        }}
      }}
    }}
  }}
}}
"#,
        mesh_block = mesh_hcl(&mesh)
    );
    run(
        config,
        "appmesh_virtual_node.test",
        format!("{mesh}/{node}"),
        &[
            r#"path = "/ping""#,
            "max_pending_requests = 20",
            r#"certificate_chain = "/certs/ca.pem""#,
            r#"response_type = "ENDPOINTS""#,
            r#"value = "%RESPONSE_CODE%""#,
        ],
    );
}

#[test]
fn virtual_router() {
    let (mesh, router) = (random_name(), random_name());
    let config = format!(
        "{}{}",
        mesh_hcl(&mesh),
        router_hcl("test", &router, "http", &[8080, 8081])
    );
    run(
        config,
        "appmesh_virtual_router.test",
        format!("{mesh}/{router}"),
        &["port = 8080", "port = 8081", r#"protocol = "http""#],
    );
}

#[test]
fn route() {
    let (mesh, router, route, node) = (random_name(), random_name(), random_name(), random_name());
    let config = format!(
        r#"{mesh_block}{router_block}{node_block}
resource "appmesh_route" "test" {{
  name                = "{route}"
  mesh_name           = appmesh_mesh.test.id
  virtual_router_name = appmesh_virtual_router.test.name

  spec {{
    priority = 0

    http_route {{
      match {{
        prefix = "/api"
        port   = 8081
        method = "GET"

        header {{
          name   = "x-range"
          invert = false

          match {{
            range {{
              start = 0
              end   = 100
            }}
          }}
        }}

        query_parameter {{
          name = "v"

          match {{
            exact = "2"
          }}
        }}
      }}

      action {{
        weighted_target {{
          virtual_node = appmesh_virtual_node.test.name
          weight       = 100
        }}
      }}

      retry_policy {{
        max_retries       = 0
        http_retry_events = ["server-error"]

        per_retry_timeout {{
          unit  = "ms"
          value = 250
        }}
      }}

      timeout {{
        idle {{
          unit  = "s"
          value = 0
        }}
      }}
    }}
  }}
}}
"#,
        mesh_block = mesh_hcl(&mesh),
        router_block = router_hcl("test", &router, "http", &[8080, 8081]),
        node_block = bare_node_hcl("test", &node),
    );
    run(
        config,
        "appmesh_route.test",
        format!("{mesh}/{router}/{route}"),
        &[
            "priority = 0",
            "start = 0",
            "max_retries = 0",
            r#"prefix = "/api""#,
            r#"exact = "2""#,
        ],
    );
}

fn gateway_block(gateway: &str) -> String {
    format!(
        r#"
resource "appmesh_virtual_gateway" "test" {{
  name      = "{gateway}"
  mesh_name = appmesh_mesh.test.id

  spec {{
    listener {{
      port_mapping {{
        port     = 8080
        protocol = "http"
      }}

      health_check {{
        protocol            = "http"
        path                = "/health"
        healthy_threshold   = 2
        unhealthy_threshold = 3
        timeout_millis      = 2000
        interval_millis     = 5000
      }}

      connection_pool {{
        http {{
          max_connections = 50
        }}
      }}
    }}

    backend_defaults {{
      client_policy {{
        tls {{
          enforce = true

          validation {{
            trust {{
              sds {{
                secret_name = "ca-bundle"
              }}
            }}

            subject_alternative_names {{
              match {{
                exact = ["a.example.com", "b.example.com"]
              }}
            }}
          }}
        }}
      }}
    }}

    logging {{
      access_log {{
        file {{
          path = "/dev/stdout"

          format {{
            text = "%START_TIME% %RESPONSE_CODE%"
          }}
        }}
      }}
    }}
  }}
}}
"#
    )
}

#[test]
fn virtual_gateway() {
    let (mesh, gateway) = (random_name(), random_name());
    let config = format!("{}{}", mesh_hcl(&mesh), gateway_block(&gateway));
    run(
        config,
        "appmesh_virtual_gateway.test",
        format!("{mesh}/{gateway}"),
        &[
            r#"path = "/health""#,
            "max_connections = 50",
            r#"secret_name = "ca-bundle""#,
            r#"text = "%START_TIME% %RESPONSE_CODE%""#,
        ],
    );
}

#[test]
fn gateway_route() {
    let (mesh, gateway, node, route) = (random_name(), random_name(), random_name(), random_name());
    let config = format!(
        r#"{mesh_block}{gateway_block}{node_service}
resource "appmesh_gateway_route" "test" {{
  name                 = "{route}"
  mesh_name            = appmesh_mesh.test.id
  virtual_gateway_name = appmesh_virtual_gateway.test.name

  spec {{
    priority = 5

    http_route {{
      match {{
        prefix = "/svc/"

        hostname {{
          suffix = ".example.com"
        }}

        header {{
          name   = "x-canary"
          invert = true

          match {{
            exact = "true"
          }}
        }}
      }}

      action {{
        target {{
          virtual_service {{
            virtual_service_name = appmesh_virtual_service.test.name
          }}
        }}

        rewrite {{
          hostname {{
            default_target_hostname = "DISABLED"
          }}

          prefix {{
            value = "/"
          }}
        }}
      }}
    }}
  }}

  tags = {{
    Route = "svc"
  }}
}}
"#,
        mesh_block = mesh_hcl(&mesh),
        gateway_block = gateway_block(&gateway),
        node_service = node_service_hcl(
            "test",
            &node,
            &listeners_hcl("http", &[80]),
            &format!("svc.{mesh}.local"),
            &format!("svc.{mesh}.local"),
        ),
    );
    run(
        config,
        "appmesh_gateway_route.test",
        format!("{mesh}/{gateway}/{route}"),
        &[
            "priority = 5",
            r#"suffix = ".example.com""#,
            "invert = true",
            r#"default_target_hostname = "DISABLED""#,
            r#"Route = "svc""#,
        ],
    );
}
