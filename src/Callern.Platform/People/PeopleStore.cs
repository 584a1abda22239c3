using System.Text.Json;
using Callern.Platform.Infrastructure;
using Npgsql;

namespace Callern.Platform.People;

/// <summary>Students and teachers, keyed by tenant and the school's own user id.</summary>
public sealed class PeopleStore(NpgsqlDataSource db, IEnumerable<ITeacherChanges> teacherChanges, TimeProvider time)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private const string StudentColumns =
        "id, display_name, target_language, level, time_zone, preferred_accent, preferred_specialization, goal, created_at, updated_at";
    private const string TeacherColumns =
        "id, display_name, languages::text AS languages, specializations, time_zone, bio, avatar_url, created_at, updated_at";

    public async Task<Student> UpsertStudentAsync(Guid tenantId, string id, StudentInput input)
    {
        await using var connection = await db.OpenConnectionAsync();
        var row = await connection.QuerySingleRowAsync<StudentRow>(
            $"""
            INSERT INTO students (tenant_id, id, display_name, target_language, level, time_zone,
                                  preferred_accent, preferred_specialization, goal, created_at, updated_at)
            VALUES (@tenantId, @id, @DisplayName, @TargetLanguage, @Level, @TimeZone, @accent, @specialization, @Goal, @now, @now)
            ON CONFLICT (tenant_id, id) DO UPDATE SET
                display_name = excluded.display_name, target_language = excluded.target_language, level = excluded.level,
                time_zone = excluded.time_zone, preferred_accent = excluded.preferred_accent,
                preferred_specialization = excluded.preferred_specialization, goal = excluded.goal, updated_at = excluded.updated_at
            RETURNING {StudentColumns}
            """,
            new
            {
                tenantId, id, input.DisplayName, input.TargetLanguage, input.Level, input.TimeZone, input.Goal,
                accent = input.Preferences?.Accent, specialization = input.Preferences?.Specialization, now = time.GetUtcNow(),
            });
        return row.ToStudent();
    }

    public async Task<Student?> FindStudentAsync(Guid tenantId, string id)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await FindStudentAsync(connection, null, tenantId, id);
    }

    /// <summary>As <see cref="FindStudentAsync(Guid, string)"/>, on a connection the caller holds (no second pooled connection inside a transaction).</summary>
    public static async Task<Student?> FindStudentAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, Guid tenantId, string id)
    {
        var row = await connection.QuerySingleRowOrDefaultAsync<StudentRow>(StudentSql, new { tenantId, studentId = id }, transaction);
        return row?.ToStudent();
    }

    /// <summary>For a caller's own batch of statements: student <c>@studentId</c> of tenant <c>@tenantId</c>, read with <see cref="ReadStudentAsync"/>.</summary>
    public const string StudentSql = $"SELECT {StudentColumns} FROM students WHERE tenant_id = @tenantId AND id = @studentId";

    /// <summary>
    /// For a caller's own statement, as a subquery: the teachers of every tenant (tenant_id, id,
    /// languages as jsonb, specializations, time_zone); filter by tenant in the join.
    /// </summary>
    public const string TeachersSql = "SELECT tenant_id, id, languages, specializations, time_zone FROM teachers";

    public static async Task<Student?> ReadStudentAsync(RowResults results) =>
        (await results.ReadSingleOrDefaultAsync<StudentRow>())?.ToStudent();

    public async Task<IReadOnlyList<Student>> ListStudentsAsync(Guid tenantId, string? after, int limit, string? targetLanguage, string? level)
    {
        await using var connection = await db.OpenConnectionAsync();
        var rows = await connection.QueryRowsAsync<StudentRow>(
            $"""
            SELECT {StudentColumns} FROM students
            WHERE tenant_id = @tenantId AND (@after::text IS NULL OR id > @after)
              AND (@targetLanguage::text IS NULL OR target_language = @targetLanguage OR target_language LIKE @targetLanguage || '-%')
              AND (@level::text IS NULL OR level = @level)
            ORDER BY id LIMIT @limit
            """,
            new { tenantId, after, limit, targetLanguage, level });
        return rows.Select(r => r.ToStudent()).ToList();
    }

    public async Task<Teacher> UpsertTeacherAsync(Guid tenantId, string id, TeacherInput input)
    {
        await using var connection = await db.OpenConnectionAsync();
        var row = await connection.QuerySingleRowAsync<TeacherRow>(
            $"""
            INSERT INTO teachers (tenant_id, id, display_name, languages, specializations, time_zone, bio, avatar_url, created_at, updated_at)
            VALUES (@tenantId, @id, @DisplayName, @languages::jsonb, @specializations, @TimeZone, @Bio, @AvatarUrl, @now, @now)
            ON CONFLICT (tenant_id, id) DO UPDATE SET
                display_name = excluded.display_name, languages = excluded.languages, specializations = excluded.specializations,
                time_zone = excluded.time_zone, bio = excluded.bio, avatar_url = excluded.avatar_url, updated_at = excluded.updated_at
            RETURNING {TeacherColumns}
            """,
            new
            {
                tenantId, id, input.DisplayName, input.TimeZone, input.Bio, input.AvatarUrl, now = time.GetUtcNow(),
                languages = JsonSerializer.Serialize(input.Languages, Json),
                specializations = (input.Specializations ?? []).Distinct().ToArray(),
            });
        foreach (var changes in teacherChanges)
        {
            changes.TeachersChanged(tenantId);
        }
        return row.ToTeacher();
    }

    public async Task<Teacher?> FindTeacherAsync(Guid tenantId, string id)
    {
        await using var connection = await db.OpenConnectionAsync();
        var row = await connection.QuerySingleRowOrDefaultAsync<TeacherRow>(
            $"SELECT {TeacherColumns} FROM teachers WHERE tenant_id = @tenantId AND id = @id", new { tenantId, id });
        return row?.ToTeacher();
    }

    public async Task<IReadOnlyList<Teacher>> ListTeachersAsync(
        Guid tenantId, string? after, int limit, string? language, string? level, string? specialization)
    {
        await using var connection = await db.OpenConnectionAsync();
        var rows = await connection.QueryRowsAsync<TeacherRow>(
            $"""
            SELECT {TeacherColumns} FROM teachers
            WHERE tenant_id = @tenantId AND (@after::text IS NULL OR id > @after)
              AND (@specialization::text IS NULL OR @specialization = ANY (specializations))
              AND (@language::text IS NULL AND @level::text IS NULL OR EXISTS (
                    SELECT 1 FROM jsonb_array_elements(languages) l
                    WHERE (@language::text IS NULL OR l->>'language' = @language OR l->>'language' LIKE @language || '-%')
                      AND (@level::text IS NULL OR l->'levels' ? @level)))
            ORDER BY id LIMIT @limit
            """,
            new { tenantId, after, limit, language, level, specialization });
        return rows.Select(r => r.ToTeacher()).ToList();
    }

    // Dapper fills rows by property: timestamptz arrives as DateTime and text[] as an array.
    private sealed class StudentRow
    {
        public string Id { get; init; } = "";
        public string DisplayName { get; init; } = "";
        public string? TargetLanguage { get; init; }
        public string? Level { get; init; }
        public string TimeZone { get; init; } = "";
        public string? PreferredAccent { get; init; }
        public string? PreferredSpecialization { get; init; }
        public string? Goal { get; init; }
        public DateTime CreatedAt { get; init; }
        public DateTime UpdatedAt { get; init; }

        public Student ToStudent() => new(
            Id, DisplayName, TargetLanguage, Level, TimeZone, new StudentPreferences(PreferredAccent, PreferredSpecialization), Goal,
            CreatedAt.AsUtc(), UpdatedAt.AsUtc());
    }

    private sealed class TeacherRow
    {
        public string Id { get; init; } = "";
        public string DisplayName { get; init; } = "";
        public string Languages { get; init; } = "[]";
        public string[] Specializations { get; init; } = [];
        public string TimeZone { get; init; } = "";
        public string? Bio { get; init; }
        public string? AvatarUrl { get; init; }
        public DateTime CreatedAt { get; init; }
        public DateTime UpdatedAt { get; init; }

        public Teacher ToTeacher() => new(
            Id, DisplayName, JsonSerializer.Deserialize<List<TeacherLanguage>>(Languages, Json)!, Specializations, TimeZone, Bio, AvatarUrl,
            CreatedAt.AsUtc(), UpdatedAt.AsUtc());
    }
}

public static class PeopleServices
{
    public static IServiceCollection AddPeople(this IServiceCollection services) => services.AddSingleton<PeopleStore>();
}
