using System.Collections.Concurrent;
using System.Text.Json;
using Callern.Platform.Infrastructure;
using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace Callern.Platform.Tenancy;

/// <summary>
/// A tenant's settings. Every field has a default, so a new tenant works out of the box; PUT
/// replaces the whole document after validating it. Features add their fields here.
/// </summary>
public sealed record TenantSettings
{
    /// <summary>
    /// The school's web apps' browser origins, e.g. https://school.example: pages there may call the
    /// REST API and open the hub with this school's tokens (docs/security.md). Besides these, only
    /// the operator's origins (<c>Callern:Cors:AllowedOrigins</c>) are accepted.
    /// </summary>
    public IReadOnlyList<string> AllowedOrigins { get; init; } = [];

    /// <summary>Lifetime of tokens from POST /v1/tokens when the request names none.</summary>
    public int DefaultTokenTtlSeconds { get; init; } = AccessTokens.DefaultTtlSeconds;

    /// <summary>Lifetime of TURN credentials from GET /v1/ice-servers: long enough for a call, short enough that a leaked one soon dies.</summary>
    /// <remarks>Null (what clients that do not know the field send) means the default.</remarks>
    public int? TurnCredentialTtlSeconds { get; init => field = value ?? Turn.TurnCredentials.DefaultTtlSeconds; } = Turn.TurnCredentials.DefaultTtlSeconds;

    /// <summary>How long a teacher without a live hub connection keeps their status before turning offline (a reload or a network blip is not a sign-off).</summary>
    /// <remarks>Null means the default, as above.</remarks>
    public int? PresenceGraceSeconds { get; init => field = value ?? Signaling.PresenceRules.DefaultGraceSeconds; } = Signaling.PresenceRules.DefaultGraceSeconds;

    /// <summary>Matching, ringing, metering and billing of calls (docs/calls.md).</summary>
    public Calls.CallSettings Calls { get; init; } = new();

    /// <summary>File limits and retention, chat and whiteboard flood limits of the in-call classroom (docs/classroom.md).</summary>
    /// <remarks>Null (what clients that do not know the field send) means the defaults.</remarks>
    public Classroom.ClassroomSettings? Classroom { get; init => field = value ?? new(); } = new();

    public FieldErrors Validate()
    {
        var errors = new FieldErrors()
            .Check(AllowedOrigins is not null && AllowedOrigins.Count <= OriginRules.MaxPerTenant, "allowedOrigins", $"At most {OriginRules.MaxPerTenant} origins.")
            .Check(DefaultTokenTtlSeconds is >= AccessTokens.MinTtlSeconds and <= AccessTokens.MaxTtlSeconds,
                "defaultTokenTtlSeconds", $"Between {AccessTokens.MinTtlSeconds} and {AccessTokens.MaxTtlSeconds}.")
            .Check(TurnCredentialTtlSeconds is >= Turn.TurnCredentials.MinTtlSeconds and <= Turn.TurnCredentials.MaxTtlSeconds,
                "turnCredentialTtlSeconds", $"Between {Turn.TurnCredentials.MinTtlSeconds} and {Turn.TurnCredentials.MaxTtlSeconds}.")
            .Check(PresenceGraceSeconds is >= Signaling.PresenceRules.MinGraceSeconds and <= Signaling.PresenceRules.MaxGraceSeconds,
                "presenceGraceSeconds", $"Between {Signaling.PresenceRules.MinGraceSeconds} and {Signaling.PresenceRules.MaxGraceSeconds}.");
        if (Calls is null)
        {
            errors.Add("calls", "Required.");
        }
        else
        {
            Calls.Validate(errors, "calls.");
        }
        Classroom!.Validate(errors, "classroom.");
        foreach (var (origin, i) in (AllowedOrigins ?? []).Select((o, i) => (o, i)))
        {
            errors.Check(OriginRules.Normalize(origin) is not null, $"allowedOrigins[{i}]", OriginRules.Hint);
        }
        return errors;
    }

    /// <summary>The settings with their origins as browsers send them, each once; call after <see cref="Validate"/> passed.</summary>
    public TenantSettings Normalized() =>
        this with { AllowedOrigins = AllowedOrigins.Select(o => OriginRules.Normalize(o)!).Distinct(StringComparer.Ordinal).ToList() };
}

/// <summary>
/// Tenant settings, read on nearly every request and call step, so each node keeps them in memory.
/// A change reaches every node's cache at once (<see cref="SettingsChanges"/>: PostgreSQL
/// LISTEN/NOTIFY); an entry also expires after <see cref="CacheFor"/>, which bounds how stale a node
/// can be while its listening connection is down. Reading never needs a second pooled connection
/// inside a transaction more than once per tenant per period.
/// </summary>
public sealed class SettingsStore(NpgsqlDataSource db, SettingsChanges changes, TimeProvider time)
{
    public static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(5);

    private readonly ConcurrentDictionary<Guid, Cached> _cache = new();

    private sealed record Cached(TenantSettings Settings, long Generation, long LoadedAt);

    // Enums by name, so stored settings survive reordered members.
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    public async Task<TenantSettings> GetAsync(Guid tenantId)
    {
        if (_cache.TryGetValue(tenantId, out var cached) && cached.Generation == changes.Generation
            && time.GetElapsedTime(cached.LoadedAt) < CacheFor)
        {
            return cached.Settings;
        }
        // Taken before reading: a change heard of during the read leaves this entry stale.
        var generation = changes.Generation;
        var loadedAt = time.GetTimestamp();
        await using var connection = await db.OpenConnectionAsync();
        var json = await connection.QuerySingleRowOrDefaultAsync<string>("SELECT settings::text FROM tenants WHERE id = @tenantId", new { tenantId });
        var settings = Read(json);
        _cache[tenantId] = new Cached(settings, generation, loadedAt);
        return settings;
    }

    public async Task SaveAsync(Guid tenantId, TenantSettings settings)
    {
        await using var connection = await db.OpenConnectionAsync();
        await connection.ExecuteAsync(
            "UPDATE tenants SET settings = @json::jsonb WHERE id = @tenantId",
            new { tenantId, json = JsonSerializer.Serialize(settings, Json) });
        changes.Changed();
    }

    /// <summary>
    /// Changes one part of the settings under the tenant row's lock, so two admins adding origins
    /// at once both keep theirs. <paramref name="change"/> returns the new settings, or null to
    /// change nothing; the settings that stand afterwards are returned.
    /// </summary>
    public async Task<(TenantSettings Settings, bool Changed)> ChangeAsync(Guid tenantId, Func<TenantSettings, TenantSettings?> change)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        var json = await connection.QuerySingleRowOrDefaultAsync<string>(
            "SELECT settings::text FROM tenants WHERE id = @tenantId FOR UPDATE", new { tenantId }, transaction);
        var current = Read(json);
        if (change(current) is not { } changed)
        {
            return (current, false);
        }
        await connection.ExecuteAsync(
            "UPDATE tenants SET settings = @json::jsonb WHERE id = @tenantId",
            new { tenantId, json = JsonSerializer.Serialize(changed, Json) }, transaction);
        await transaction.CommitAsync();
        changes.Changed();
        return (changed, true);
    }

    private static TenantSettings Read(string? json) =>
        json is null ? new TenantSettings() : JsonSerializer.Deserialize<TenantSettings>(json, Json) ?? new TenantSettings();
}

public static class Settings
{
    public static RouteGroupBuilder MapSettings(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/settings").WithTags("Settings").RequireAuthorization(Policies.Admin);
        group.MapGet("/", Get).WithName("GetSettings").WithSummary("Gets the tenant's settings, defaults filled in.");
        group.MapPut("/", Put).WithName("UpdateSettings").WithSummary("Replaces the tenant's settings after validating every field.");
        return group;
    }

    private static async Task<Ok<TenantSettings>> Get(HttpContext http, SettingsStore settings) =>
        TypedResults.Ok(await settings.GetAsync(http.User.RequiredCaller().TenantId));

    private static async Task<Results<Ok<TenantSettings>, ValidationProblem>> Put(TenantSettings request, HttpContext http, SettingsStore settings)
    {
        var errors = request.Validate();
        if (!errors.IsEmpty)
        {
            return errors.ToProblem();
        }
        var normalized = request.Normalized();
        await settings.SaveAsync(http.User.RequiredCaller().TenantId, normalized);
        return TypedResults.Ok(normalized);
    }
}
