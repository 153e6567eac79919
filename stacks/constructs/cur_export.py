"""Opt-in SQL over the bill: a CUR 2.0 data export to an encrypted, access-logged bucket, a Glue
table over it, an Athena workgroup with encrypted results and saved queries."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_athena as athena
from aws_cdk import aws_bcmdataexports as bcm
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from claude_platform.cur import (
    CUR_COLUMNS,
    EXPORT_TABLE,
    FIRST_BILLING_PERIOD,
    PARTITION_COLUMN,
    export_query,
    saved_queries,
)

EXPORT_SERVICES = ("bcm-data-exports.amazonaws.com", "billingreports.amazonaws.com")
RESULTS_PREFIX = "athena-results"
S3_LOGS_BY_POLICY_FLAG = "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy"
PARQUET_INPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"


class CurExport(Construct):
    """`AWS::BCMDataExports::Export` (CUR 2.0, Parquet, refreshed by AWS) into `<bucket>/<prefix>/`,
    with the Glue table declaring exactly the exported columns (partition projection on the
    billing period, so no crawler), an Athena workgroup that enforces SSE-S3 results in the same
    bucket, and named queries for daily spend per project, model and profile.

    The bucket and its access-log bucket are retained when the stack is deleted (billing history).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        export_name: str,
        s3_prefix: str,
        time_granularity: str,
        database_name: str,
        table_name: str,
        workgroup_name: str,
        tag_key: str,
        access_log_retention_days: int,
    ) -> None:
        if time_granularity not in ("DAILY", "HOURLY"):
            raise ValueError(f"time_granularity must be DAILY or HOURLY, got {time_granularity!r}")
        if not s3_prefix or s3_prefix.startswith("/") or s3_prefix.endswith("/"):
            raise ValueError(
                f"s3_prefix must be a non-empty key prefix without leading/trailing '/': {s3_prefix!r}"
            )
        super().__init__(scope, construct_id)
        # Grant S3 log delivery by bucket policy, not the legacy LogDeliveryWrite ACL (CDK's
        # recommended flag, scoped to this construct's buckets).
        self.node.set_context(S3_LOGS_BY_POLICY_FLAG, True)
        stack = Stack.of(self)
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(access_log_retention_days))],
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="cur-bucket/",
            lifecycle_rules=[
                s3.LifecycleRule(prefix=f"{RESULTS_PREFIX}/", expiration=Duration.days(30)),
                s3.LifecycleRule(noncurrent_version_expiration=Duration.days(30)),
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )
        export_arn_pattern = f"arn:{stack.partition}:bcm-data-exports:{stack.region}:{stack.account}:export/*"
        cur_arn_pattern = f"arn:{stack.partition}:cur:{stack.region}:{stack.account}:definition/*"
        conditions = {
            "StringEquals": {"aws:SourceAccount": stack.account},
            "ArnLike": {"aws:SourceArn": [export_arn_pattern, cur_arn_pattern]},
        }
        policy_results = [
            self.bucket.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="DataExportsWriteReports",
                    principals=[iam.ServicePrincipal(s) for s in EXPORT_SERVICES],
                    actions=["s3:PutObject"],
                    resources=[self.bucket.arn_for_objects(f"{s3_prefix}/*")],
                    conditions=conditions,
                )
            ),
            self.bucket.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="DataExportsCheckBucketPolicy",
                    principals=[iam.ServicePrincipal(s) for s in EXPORT_SERVICES],
                    actions=["s3:GetBucketPolicy"],
                    resources=[self.bucket.bucket_arn],
                    conditions=conditions,
                )
            ),
        ]
        self.export = bcm.CfnExport(
            self,
            "Export",
            export=bcm.CfnExport.ExportProperty(
                name=export_name,
                description="Claude platform: CUR 2.0 columns for spend per project, model and profile",
                data_query=bcm.CfnExport.DataQueryProperty(
                    query_statement=export_query(),
                    table_configurations={
                        EXPORT_TABLE: {
                            "TIME_GRANULARITY": time_granularity,
                            "INCLUDE_RESOURCES": "TRUE",
                            "INCLUDE_MANUAL_DISCOUNT_COMPATIBILITY": "FALSE",
                            "INCLUDE_SPLIT_COST_ALLOCATION_DATA": "FALSE",
                        }
                    },
                ),
                destination_configurations=bcm.CfnExport.DestinationConfigurationsProperty(
                    s3_destination=bcm.CfnExport.S3DestinationProperty(
                        s3_bucket=self.bucket.bucket_name,
                        s3_prefix=s3_prefix,
                        s3_region=stack.region,
                        s3_output_configurations=bcm.CfnExport.S3OutputConfigurationsProperty(
                            output_type="CUSTOM",
                            format="PARQUET",
                            compression="PARQUET",
                            overwrite="OVERWRITE_REPORT",
                        ),
                    )
                ),
                refresh_cadence=bcm.CfnExport.RefreshCadenceProperty(frequency="SYNCHRONOUS"),
            ),
        )
        for result in policy_results:
            if result.policy_dependable is not None:
                self.export.node.add_dependency(result.policy_dependable)

        data_location = f"s3://{self.bucket.bucket_name}/{s3_prefix}/{export_name}/data/"
        self.database = glue.CfnDatabase(
            self,
            "Database",
            catalog_id=stack.account,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=database_name, description="Claude platform: the CUR 2.0 data export"
            ),
        )
        self.table = glue.CfnTable(
            self,
            "Table",
            catalog_id=stack.account,
            database_name=database_name,
            table_input=glue.CfnTable.TableInputProperty(
                name=table_name,
                description=f"CUR 2.0 export {export_name} (Parquet, partitioned by billing period)",
                table_type="EXTERNAL_TABLE",
                parameters={
                    "classification": "parquet",
                    "projection.enabled": "true",
                    f"projection.{PARTITION_COLUMN}.type": "date",
                    f"projection.{PARTITION_COLUMN}.format": "yyyy-MM",
                    f"projection.{PARTITION_COLUMN}.range": f"{FIRST_BILLING_PERIOD},NOW",
                    f"projection.{PARTITION_COLUMN}.interval": "1",
                    f"projection.{PARTITION_COLUMN}.interval.unit": "MONTHS",
                    "storage.location.template": f"{data_location}BILLING_PERIOD=${{{PARTITION_COLUMN}}}/",
                },
                partition_keys=[glue.CfnTable.ColumnProperty(name=PARTITION_COLUMN, type="string")],
                storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                    location=data_location,
                    input_format=PARQUET_INPUT,
                    output_format=PARQUET_OUTPUT,
                    serde_info=glue.CfnTable.SerdeInfoProperty(serialization_library=PARQUET_SERDE),
                    columns=[glue.CfnTable.ColumnProperty(name=n, type=t) for n, t in CUR_COLUMNS],
                ),
            ),
        )
        self.table.node.add_dependency(self.database)
        self.workgroup = athena.CfnWorkGroup(
            self,
            "WorkGroup",
            name=workgroup_name,
            description="Claude platform: SQL over the CUR 2.0 export (encrypted results)",
            recursive_delete_option=True,
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True,
                publish_cloud_watch_metrics_enabled=True,
                bytes_scanned_cutoff_per_query=100 * 1024**3,
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=f"s3://{self.bucket.bucket_name}/{RESULTS_PREFIX}/",
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_S3"
                    ),
                ),
            ),
        )
        self.queries = []
        for query in saved_queries(database=database_name, table=table_name, tag_key=tag_key):
            named = athena.CfnNamedQuery(
                self,
                "Query" + "".join(part.capitalize() for part in query.name.split("-")),
                name=query.name,
                description=query.description,
                database=database_name,
                query_string=query.sql,
                work_group=self.workgroup.ref,
            )
            named.node.add_dependency(self.table)
            self.queries.append(named)
