// A CDK app written by `spadeploy export cdk`: the wiring of a private-mode spadeploy site,
// declared once here. `spadeploy push` then writes only content: the objects, the CloudFront
// Function's code, the KeyValueStore's entries and invalidations.
//
// Plain JavaScript for aws-cdk-lib v2 (no compiler): `npm install aws-cdk-lib constructs`, then
// `npx cdk synth --app "node app.js"` (or `cdk deploy`); `node app.js` alone synthesizes the
// template into $CDK_OUTDIR. The stack is environment-agnostic: no lookups, no assets.
"use strict";

const cdk = require("aws-cdk-lib");
const {
  aws_certificatemanager: acm,
  aws_cloudfront: cloudfront,
  aws_cloudfront_origins: origins,
  aws_iam: iam,
  aws_s3: s3,
} = cdk;

// What spadeploy decided: names, paths, the function's events, the policy statements (the same
// as in the CloudFormation and Terraform exports). `{ "spadeploy:ref": NAME }` stands for an ARN
// known only once the stack exists; `resolve` puts CDK's reference there. The settings AWS
// defines (managed cache policies, the runtime, methods) are CDK's own named constants below.
const site = {}; // spadeploy:data

class SpaStack extends cdk.Stack {
  constructor(scope, id, props) {
    super(scope, id, props);
    this.templateOptions.metadata = { spadeploy: site.notes };
    const bucket = this.bucket();
    const { fn, store } = this.edgeFunction();
    const distribution = this.distribution(bucket, fn);
    const refs = {
      distributionArn: distribution.distributionArn,
      functionArn: fn.functionArn,
      storeArn: store.keyValueStoreArn,
    };
    // The statements a private-mode push writes for this distribution, and only those: reads
    // and listing (honest 404s) of the site's keys, spadeploy's state hidden from everyone.
    for (const statement of site.bucketPolicy) {
      bucket.addToResourcePolicy(iam.PolicyStatement.fromJson(resolve(statement, refs)));
    }
    const values = {
      BucketName: bucket.bucketName,
      DistributionId: distribution.distributionId,
      DistributionDomainName: distribution.distributionDomainName,
      // The name as written: the function's ARN is not what `[routing] function_name` takes.
      FunctionName: site.function.name,
      KeyValueStoreArn: store.keyValueStoreArn,
    };
    if (site.github) {
      values.DeployRoleArn = this.deployRole(site.github, refs).roleArn;
    }
    for (const { name, description } of site.outputs) {
      new cdk.CfnOutput(this, name, { description, value: values[name] });
    }
  }

  bucket() {
    return new s3.Bucket(this, "Bucket", {
      bucketName: site.bucket,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      encryption: s3.BucketEncryption.S3_MANAGED,
      // The site's files outlive the stack: deleting the stack leaves the bucket.
      removalPolicy: cdk.RemovalPolicy.RETAIN,
    });
  }

  edgeFunction() {
    // spadeploy writes this store's entries (the route table): import no data into it and
    // manage none of its keys elsewhere.
    const store = new cloudfront.KeyValueStore(this, "KeyValueStore", {
      keyValueStoreName: site.function.name,
      comment: site.function.storeComment,
    });
    // spadeploy owns this function's code: the placeholder passes everything through until the
    // first push publishes the routing code. A deploy that changes this resource writes the
    // placeholder back until the next push; other deploys leave the code alone.
    const fn = new cloudfront.Function(this, "Function", {
      functionName: site.function.name,
      comment: site.comment,
      code: cloudfront.FunctionCode.fromInline(site.function.code),
      runtime: cloudfront.FunctionRuntime.JS_2_0,
      keyValueStore: store,
      autoPublish: true,
    });
    return { fn, store };
  }

  distribution(bucket, fn) {
    const oac = new cloudfront.S3OriginAccessControl(this, "OriginAccessControl", {
      originAccessControlName: site.function.name,
      description: site.originAccessControl.description,
      signing: cloudfront.Signing.SIGV4_ALWAYS,
    });
    // `withBucketDefaults` plus the OAC id, not `withOriginAccessControl`: that one adds its own
    // grant of every object to the bucket policy, wider than the statements a push writes.
    const spa = origins.S3BucketOrigin.withBucketDefaults(bucket, {
      originId: site.spa.originId,
      originPath: site.spa.originPath || undefined,
      originAccessControlId: oac.originAccessControlId,
    });
    const certificate = site.certificateArn
      ? acm.Certificate.fromCertificateArn(this, "Certificate", site.certificateArn)
      : undefined;
    return new cloudfront.Distribution(this, "Distribution", {
      comment: site.comment,
      httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
      enableIpv6: true,
      defaultBehavior: {
        origin: spa,
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        cachePolicy: cloudfront.CachePolicy.CACHING_OPTIMIZED,
        compress: true,
        allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD,
        cachedMethods: cloudfront.CachedMethods.CACHE_GET_HEAD,
        functionAssociations: site.spa.functionEvents.map((eventType) => ({ function: fn, eventType })),
      },
      additionalBehaviors: site.api ? { [site.api.path]: apiBehavior(site.api) } : {},
      domainNames: site.aliases.length > 0 ? site.aliases : undefined,
      certificate,
      minimumProtocolVersion: certificate ? cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021 : undefined,
      sslSupportMethod: certificate ? cloudfront.SSLMethod.SNI : undefined,
      // No error responses: distribution-wide, they would rewrite the API's 403s and 404s too.
    });
  }

  // The GitHub OIDC provider (unless the account has one: pass its ARN as the parameter) and
  // the deploy role whose policy writes only content.
  deployRole(github, refs) {
    const existing = new cdk.CfnParameter(this, github.oidcParameter, {
      type: "String",
      default: "",
      description: github.oidcParameterDescription,
    });
    const create = new cdk.CfnCondition(this, "CreateGitHubOidcProvider", {
      expression: cdk.Fn.conditionEquals(existing.valueAsString, ""),
    });
    const provider = new iam.CfnOIDCProvider(this, "GitHubOidcProvider", {
      url: github.oidcUrl,
      clientIdList: [github.audience],
    });
    provider.cfnOptions.condition = create;
    const all = {
      ...refs,
      oidcProviderArn: cdk.Fn.conditionIf(create.logicalId, provider.ref, existing.valueAsString).toString(),
    };
    const trust = resolve(github.trust, all);
    return new iam.Role(this, "DeployRole", {
      description: github.roleDescription,
      assumedBy: new iam.FederatedPrincipal(trust.Principal.Federated, trust.Condition, trust.Action),
      inlinePolicies: { [github.policyName]: iam.PolicyDocument.fromJson(resolve(github.policy, all)) },
    });
  }
}

// `/api/*` to the API, uncached, with every viewer header but Host, every method, and no edge
// function (API answers pass as they are). HTTPS only: a redirect would turn a POST into a GET.
function apiBehavior(api) {
  return {
    origin: new origins.HttpOrigin(api.host, {
      originId: api.originId,
      protocolPolicy: cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
      httpsPort: 443,
      originSslProtocols: [cloudfront.OriginSslPolicy.TLS_V1_2],
    }),
    viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
    cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
    originRequestPolicy: cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
    compress: true,
    allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL,
    cachedMethods: cloudfront.CachedMethods.CACHE_GET_HEAD,
  };
}

// `value` with every `{ "spadeploy:ref": NAME }` replaced by `refs[NAME]`.
function resolve(value, refs) {
  if (Array.isArray(value)) {
    return value.map((item) => resolve(item, refs));
  }
  if (value === null || typeof value !== "object") {
    return value;
  }
  if ("spadeploy:ref" in value) {
    const ref = refs[value["spadeploy:ref"]];
    if (ref === undefined) {
      throw new Error(`spadeploy export: unknown reference ${value["spadeploy:ref"]}`);
    }
    return ref;
  }
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, resolve(item, refs)]));
}

const app = new cdk.App();
new SpaStack(app, site.stackName, { description: site.description });
app.synth();
