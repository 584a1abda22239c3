using Callern.Platform.Infrastructure;
using Callern.Platform.People;
using Callern.Platform.Tenancy;
using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace Callern.Platform.Matching;

/// <summary>
/// A student and a teacher who are never matched: the teacher is not rung for that student, even
/// as a preferred teacher. <see cref="BlockedBy"/> says whose block it is; each side lifts only its own.
/// </summary>
public sealed record Block(string StudentId, string TeacherId, string BlockedBy, string? Reason, DateTimeOffset CreatedAt);

/// <summary>PUT body of a block: why, for the school's records (never shown to the blocked person).</summary>
public sealed record BlockRequest(string? Reason);

public sealed class BlockStore(NpgsqlDataSource db, TimeProvider time)
{
    private const string Columns = "student_id, teacher_id, blocked_by, reason, created_at";

    /// <summary>Adds the block, or updates its reason; the first creation time stays.</summary>
    public async Task<Block> PutAsync(Guid tenantId, string studentId, string teacherId, string blockedBy, string? reason)
    {
        await using var connection = await db.OpenConnectionAsync();
        var row = await connection.QuerySingleRowAsync<Row>(
            $"""
            INSERT INTO blocks (tenant_id, student_id, teacher_id, blocked_by, reason, created_at)
            VALUES (@tenantId, @studentId, @teacherId, @blockedBy, @reason, @now)
            ON CONFLICT (tenant_id, student_id, teacher_id, blocked_by) DO UPDATE SET reason = excluded.reason
            RETURNING {Columns}
            """,
            new { tenantId, studentId, teacherId, blockedBy, reason, now = time.GetUtcNow() });
        return row.ToBlock();
    }

    /// <summary>Removes the block; false when there was none.</summary>
    public async Task<bool> RemoveAsync(Guid tenantId, string studentId, string teacherId, string blockedBy)
    {
        await using var connection = await db.OpenConnectionAsync();
        return 1 == await connection.ExecuteAsync(
            "DELETE FROM blocks WHERE tenant_id = @tenantId AND student_id = @studentId AND teacher_id = @teacherId AND blocked_by = @blockedBy",
            new { tenantId, studentId, teacherId, blockedBy });
    }

    /// <summary>Blocks that involve the student or the teacher (either filter may be null, not both), oldest first.</summary>
    public async Task<IReadOnlyList<Block>> ListAsync(Guid tenantId, string? studentId, string? teacherId, string? blockedBy)
    {
        await using var connection = await db.OpenConnectionAsync();
        var rows = await connection.QueryRowsAsync<Row>(
            $"""
            SELECT {Columns} FROM blocks
            WHERE tenant_id = @tenantId
              AND (@studentId::text IS NULL OR student_id = @studentId)
              AND (@teacherId::text IS NULL OR teacher_id = @teacherId)
              AND (@blockedBy::text IS NULL OR blocked_by = @blockedBy)
            ORDER BY created_at, student_id, teacher_id
            """,
            new { tenantId, studentId, teacherId, blockedBy });
        return rows.Select(r => r.ToBlock()).ToList();
    }

    private sealed class Row
    {
        public string StudentId { get; init; } = "";
        public string TeacherId { get; init; } = "";
        public string BlockedBy { get; init; } = "";
        public string? Reason { get; init; }
        public DateTime CreatedAt { get; init; }

        public Block ToBlock() => new(StudentId, TeacherId, BlockedBy, Reason, CreatedAt.AsUtc());
    }
}

public static class BlockEndpoints
{
    /// <summary>Matching's services: blocks and the per-node snapshot of available teachers.</summary>
    public static IServiceCollection AddMatching(this IServiceCollection services) =>
        services.AddSingleton<BlockStore>().AddSingleton<AvailableTeachers>().AddSingleton<ITeacherChanges>(sp => sp.GetRequiredService<AvailableTeachers>())
            .AddNoticeHandler<AvailableTeachers>()
            .AddSingleton<MatchingPreview>();

    public static IEndpointRouteBuilder MapBlocks(this IEndpointRouteBuilder app)
    {
        var me = app.MapGroup("/v1/me/blocks").WithTags("Matching").RequireAuthorization(Policies.Participant);
        me.MapGet("/", ListMine).WithName("ListMyBlocks").WithSummary("The blocks the caller (a student or a teacher) made.");
        me.MapPut("/{userId}", BlockByMe).WithName("BlockUser")
            .WithSummary("A student blocks a teacher, or a teacher blocks a student: the two are never matched again.");
        me.MapDelete("/{userId}", UnblockByMe).WithName("UnblockUser")
            .WithSummary("Lifts the caller's own block (404 if there is none); blocks made by the other side or an admin stay.");

        var admin = app.MapGroup("/v1/blocks").WithTags("Matching").RequireAuthorization(Policies.Admin);
        admin.MapGet("/", List).WithName("ListBlocks").WithSummary("Every block involving a student or a teacher (give at least one).");
        admin.MapPut("/{studentId}/{teacherId}", BlockByAdmin).WithName("BlockPair").WithSummary("The school blocks a student-teacher pair.");
        admin.MapDelete("/{studentId}/{teacherId}", UnblockByAdmin).WithName("UnblockPair").WithSummary("Lifts the school's block of a pair (404 if there is none).");
        return app;
    }

    private static async Task<Ok<IReadOnlyList<Block>>> ListMine(HttpContext http, BlockStore blocks)
    {
        var caller = http.User.RequiredCaller();
        return TypedResults.Ok(caller.Role == Roles.Student
            ? await blocks.ListAsync(caller.TenantId, caller.UserId, null, Roles.Student)
            : await blocks.ListAsync(caller.TenantId, null, caller.UserId, Roles.Teacher));
    }

    private static async Task<Results<Ok<Block>, NotFound, ValidationProblem>> BlockByMe(
        string userId, BlockRequest request, HttpContext http, BlockStore blocks, PeopleStore people)
    {
        var caller = http.User.RequiredCaller();
        var errors = new FieldErrors().Id(userId, "userId").Optional(request.Reason, "reason", 500);
        if (!errors.IsEmpty)
        {
            return errors.ToProblem();
        }
        // The other side must exist: a student blocks a teacher of the school, a teacher a student.
        var exists = caller.Role == Roles.Student
            ? await people.FindTeacherAsync(caller.TenantId, userId) is not null
            : await people.FindStudentAsync(caller.TenantId, userId) is not null;
        if (!exists)
        {
            return TypedResults.NotFound();
        }
        var (studentId, teacherId) = Pair(caller, userId);
        return TypedResults.Ok(await blocks.PutAsync(caller.TenantId, studentId, teacherId, caller.Role, request.Reason));
    }

    private static async Task<Results<NoContent, NotFound, ValidationProblem>> UnblockByMe(string userId, HttpContext http, BlockStore blocks)
    {
        var caller = http.User.RequiredCaller();
        var errors = new FieldErrors().Id(userId, "userId");
        if (!errors.IsEmpty)
        {
            return errors.ToProblem();
        }
        var (studentId, teacherId) = Pair(caller, userId);
        return await blocks.RemoveAsync(caller.TenantId, studentId, teacherId, caller.Role) ? TypedResults.NoContent() : TypedResults.NotFound();
    }

    private static async Task<Results<Ok<IReadOnlyList<Block>>, ValidationProblem>> List(
        HttpContext http, BlockStore blocks, string? studentId, string? teacherId)
    {
        var errors = new FieldErrors().Check(studentId is not null || teacherId is not null, "studentId", "Give studentId, teacherId or both.");
        if (studentId is not null)
        {
            errors.Id(studentId, "studentId");
        }
        if (teacherId is not null)
        {
            errors.Id(teacherId, "teacherId");
        }
        return errors.IsEmpty
            ? TypedResults.Ok(await blocks.ListAsync(http.User.RequiredCaller().TenantId, studentId, teacherId, null))
            : errors.ToProblem();
    }

    private static async Task<Results<Ok<Block>, NotFound, ValidationProblem>> BlockByAdmin(
        string studentId, string teacherId, BlockRequest request, HttpContext http, BlockStore blocks, PeopleStore people)
    {
        var errors = new FieldErrors().Id(studentId, "studentId").Id(teacherId, "teacherId").Optional(request.Reason, "reason", 500);
        if (!errors.IsEmpty)
        {
            return errors.ToProblem();
        }
        var tenantId = http.User.RequiredCaller().TenantId;
        if (await people.FindStudentAsync(tenantId, studentId) is null || await people.FindTeacherAsync(tenantId, teacherId) is null)
        {
            return TypedResults.NotFound();
        }
        return TypedResults.Ok(await blocks.PutAsync(tenantId, studentId, teacherId, Roles.Admin, request.Reason));
    }

    private static async Task<Results<NoContent, NotFound, ValidationProblem>> UnblockByAdmin(string studentId, string teacherId, HttpContext http, BlockStore blocks)
    {
        var errors = new FieldErrors().Id(studentId, "studentId").Id(teacherId, "teacherId");
        if (!errors.IsEmpty)
        {
            return errors.ToProblem();
        }
        return await blocks.RemoveAsync(http.User.RequiredCaller().TenantId, studentId, teacherId, Roles.Admin)
            ? TypedResults.NoContent()
            : TypedResults.NotFound();
    }

    private static (string StudentId, string TeacherId) Pair(Caller caller, string other) =>
        caller.Role == Roles.Student ? (caller.UserId, other) : (other, caller.UserId);
}
