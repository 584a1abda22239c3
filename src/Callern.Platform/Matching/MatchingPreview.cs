using Callern.Platform.Infrastructure;
using Callern.Platform.People;
using Callern.Platform.Tenancy;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace Callern.Platform.Matching;

/// <summary>POST /v1/matching/preview: ranks for a student without ringing anyone.</summary>
public sealed record MatchPreviewRequest(string? StudentId, string? Language, string? Level, string? Accent, string? Specialization, IReadOnlyList<string>? PreferredTeachers);

public sealed record MatchPreview(IReadOnlyList<RankedCandidate> Candidates);

/// <summary>What a request asks of its teacher, checked at the edge (a call request and a preview alike).</summary>
public static class MatchCriteria
{
    public static FieldErrors Validate(
        FieldErrors errors, string? language, string? level, string? accent, string? specialization, IReadOnlyList<string>? preferredTeachers)
    {
        errors.LanguageTag(language, "language", required: false)
            .Level(level, "level", required: false)
            .LanguageTag(accent, "accent", required: false)
            .Check(preferredTeachers is null || preferredTeachers.Count <= 10, "preferredTeachers", "At most 10.");
        if (specialization is not null)
        {
            errors.Specialization(specialization, "specialization");
        }
        foreach (var (id, i) in (preferredTeachers ?? []).Select((t, i) => (t, i)))
        {
            errors.Id(id, $"preferredTeachers[{i}]");
        }
        return errors;
    }
}

/// <summary>The ranking a request would see now, without ringing anyone: a fresh snapshot, the student's profile and facts.</summary>
public sealed class MatchingPreview(NpgsqlDataSource db, AvailableTeachers availableTeachers, SettingsStore settings, TimeProvider time)
{
    public async Task<IReadOnlyList<RankedCandidate>> PreviewAsync(Guid tenantId, MatchPreviewRequest request)
    {
        var rules = (await settings.GetAsync(tenantId)).Calls;
        await using var connection = await db.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        var (profile, studentFacts) = await availableTeachers.ReadStudentAsync(connection, transaction, tenantId, request.StudentId!);
        var (language, level) = (request.Language ?? profile?.TargetLanguage ?? "", request.Level ?? profile?.Level ?? "");
        var (pool, _) = await availableTeachers.GetAsync(connection, transaction, tenantId, fresh: true);
        return Ranking.Rank(
            new MatchRequest(language, level, request.Accent ?? profile?.Preferences.Accent,
                request.Specialization ?? profile?.Preferences.Specialization, request.PreferredTeachers ?? [], profile?.TimeZone ?? "UTC"),
            pool.For(studentFacts, new HashSet<string>()), rules.Ranking, time.GetUtcNow());
    }
}

public static class MatchingEndpoints
{
    /// <summary>
    /// The preview is tagged with calls, where the API has always listed it (the generated SDKs'
    /// clients follow the tags); it is matching's all the same.
    /// </summary>
    public static IEndpointRouteBuilder MapMatching(this IEndpointRouteBuilder app)
    {
        app.MapGroup("/v1/matching").WithTags("Calls").RequireAuthorization(Policies.Admin)
            .MapPost("/preview", Preview).WithName("PreviewMatching")
            .WithSummary("Ranks the teachers free now for a student's preferences, with each score's breakdown, without ringing anyone.");
        return app;
    }

    private static async Task<Results<Ok<MatchPreview>, ValidationProblem>> Preview(MatchPreviewRequest request, HttpContext http, MatchingPreview preview)
    {
        var errors = MatchCriteria.Validate(new FieldErrors().Id(request.StudentId, "studentId"),
            request.Language, request.Level, request.Accent, request.Specialization, request.PreferredTeachers);
        if (!errors.IsEmpty)
        {
            return errors.ToProblem();
        }
        return TypedResults.Ok(new MatchPreview(await preview.PreviewAsync(http.User.RequiredCaller().TenantId, request)));
    }
}
