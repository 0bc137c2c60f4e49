import Fluent
import SQLKit

/// Creates definitions, instances, tasks and events.
struct CreateWorkflowSchema: AsyncMigration {
    var name: String { "Workflow.CreateWorkflowSchema" }

    func prepare(on database: any Database) async throws {
        try await database.schema(DefinitionRecord.schema)
            .id()
            .field("key", .string, .required)
            .field("version", .int, .required)
            .field("body", .string, .required)
            .field("created_at", .datetime, .required)
            .unique(on: "key", "version")
            .create()
        try await database.schema(WorkflowInstance.schema)
            .id()
            .field("definition_id", .uuid, .required, .references(DefinitionRecord.schema, "id"))
            .field("definition_key", .string, .required)
            .field("definition_version", .int, .required)
            .field("subject_type", .string, .required)
            .field("subject_id", .uuid, .required)
            .field("status", .string, .required)
            .field("variables", .string, .required)
            .field("state", .string, .required)
            .field("created_at", .datetime, .required)
            .field("updated_at", .datetime, .required)
            .field("finished_at", .datetime)
            .create()
        try await database.schema(WorkflowTask.schema)
            .id()
            .field("instance_id", .uuid, .required, .references(WorkflowInstance.schema, "id", onDelete: .cascade))
            .field("node_id", .string, .required)
            .field("name", .string, .required)
            .field("group_id", .uuid, .required)
            .field("mode", .string, .required)
            .field("department_id", .uuid)
            .field("role", .string)
            .field("assignee_id", .uuid)
            .field("claimed_by", .uuid)
            .field("status", .string, .required)
            .field("decided_by", .uuid)
            .field("decided_at", .datetime)
            .field("comment", .string)
            .field("due_at", .datetime)
            .field("created_at", .datetime, .required)
            .create()
        try await database.schema(WorkflowEvent.schema)
            .id()
            .field("instance_id", .uuid, .required, .references(WorkflowInstance.schema, "id", onDelete: .cascade))
            .field("task_id", .uuid)
            .field("node_id", .string)
            .field("actor_id", .uuid)
            .field("action", .string, .required)
            .field("comment", .string)
            .field("at", .datetime, .required)
            .create()
        if let sql = database as? any SQLDatabase {
            try await sql.create(index: "workflow_tasks_inbox_idx").on(WorkflowTask.schema)
                .column("department_id").column("role").column("status").run()
            try await sql.create(index: "workflow_tasks_assignee_idx").on(WorkflowTask.schema)
                .column("assignee_id").column("status").run()
            try await sql.create(index: "workflow_tasks_instance_idx").on(WorkflowTask.schema).column("instance_id").run()
            try await sql.create(index: "workflow_events_instance_idx").on(WorkflowEvent.schema).column("instance_id").run()
            try await sql.create(index: "workflow_instances_subject_idx").on(WorkflowInstance.schema)
                .column("subject_type").column("subject_id").run()
        }
    }

    func revert(on database: any Database) async throws {
        for schema in [WorkflowEvent.schema, WorkflowTask.schema, WorkflowInstance.schema, DefinitionRecord.schema] {
            try await database.schema(schema).delete()
        }
    }
}
