using System.Collections.Frozen;
using Callern.Platform.Infrastructure;
using Npgsql;

namespace Callern.Platform.Tenancy;

/// <summary>
/// The browser origins the platform answers: the operator's (<c>Callern:Cors:AllowedOrigins</c>,
/// for every school) and those that some school lists in its settings. A preflight carries no
/// token, so CORS can only ask whether <em>some</em> school lists an origin; the request itself is
/// then checked against the caller's own school (<see cref="OriginCheck"/>). Every school's list is
/// kept in memory on each node and reloaded when settings change (<see cref="SettingsChanges"/>) or
/// after <see cref="SettingsStore.CacheFor"/>.
/// </summary>
public sealed class BrowserOrigins(NpgsqlDataSource db, SettingsChanges changes, SettingsStore settings, TimeProvider time, IConfiguration configuration)
{
    public const string OperatorSection = "Callern:Cors:AllowedOrigins";

    private const string ListedSql = """
        SELECT DISTINCT lower(origin)
        FROM tenants, jsonb_array_elements_text(settings->'allowedOrigins') AS origin
        WHERE jsonb_typeof(settings->'allowedOrigins') = 'array'
        """;

    private readonly FrozenSet<string> _operator = (configuration.GetSection(OperatorSection).Get<string[]>() ?? [])
        .Select(o => OriginRules.Normalize(o) ?? throw new InvalidOperationException($"{OperatorSection} holds '{o}', which is not an origin: {OriginRules.Hint}"))
        .ToFrozenSet(StringComparer.OrdinalIgnoreCase);

    private readonly SemaphoreSlim _loading = new(1, 1);
    private volatile Listed? _listed;

    private sealed record Listed(FrozenSet<string> Origins, long Generation, long LoadedAt);

    /// <summary>Whether a browser on <paramref name="origin"/> may talk to the platform at all: the operator's or some school's.</summary>
    public async ValueTask<bool> IsKnownAsync(string origin) =>
        _operator.Contains(origin) || (await ListedAsync()).Contains(origin);

    /// <summary>Whether a browser on <paramref name="origin"/> may act for this school: the operator's or the school's own.</summary>
    public async ValueTask<bool> IsAllowedAsync(string origin, Guid tenantId) =>
        _operator.Contains(origin) || (await settings.GetAsync(tenantId)).AllowedOrigins.Contains(origin, StringComparer.OrdinalIgnoreCase);

    private async ValueTask<FrozenSet<string>> ListedAsync()
    {
        if (Fresh(_listed) is { } fresh)
        {
            return fresh.Origins;
        }
        // One reload at a time: when the list goes stale, every waiting preflight shares it.
        await _loading.WaitAsync();
        try
        {
            if (Fresh(_listed) is { } loaded)
            {
                return loaded.Origins;
            }
            var generation = changes.Generation;
            var loadedAt = time.GetTimestamp();
            await using var connection = await db.OpenConnectionAsync();
            var origins = (await connection.QueryRowsAsync<string>(ListedSql)).ToFrozenSet(StringComparer.OrdinalIgnoreCase);
            _listed = new Listed(origins, generation, loadedAt);
            return origins;
        }
        finally
        {
            _loading.Release();
        }
    }

    private Listed? Fresh(Listed? listed) =>
        listed is not null && listed.Generation == changes.Generation && time.GetElapsedTime(listed.LoadedAt) < SettingsStore.CacheFor ? listed : null;
}
