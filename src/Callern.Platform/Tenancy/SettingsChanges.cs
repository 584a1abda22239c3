using Npgsql;

namespace Callern.Platform.Tenancy;

/// <summary>
/// Tells this node's settings caches that a tenant's settings changed, on whichever node the change
/// was made. A trigger on <c>tenants</c> (migration 0012) sends <c>NOTIFY callern_settings</c> when
/// a tenant's settings change, from any writer; every node LISTENs on one dedicated connection and
/// bumps <see cref="Generation"/> when told, so every cache entry read before it is stale at once.
/// While the listening connection is down (and once more when it is back, as notifications may have
/// been missed) the caches fall back to their short expiry (<see cref="SettingsStore.CacheFor"/>).
/// </summary>
public sealed class SettingsChanges
{
    public const string Channel = "callern_settings";

    private long _generation;

    /// <summary>Changes with every change heard of: a cache entry read under another generation is stale.</summary>
    public long Generation => Interlocked.Read(ref _generation);

    /// <summary>A change made by this node, or heard of: every settings cache entry on this node is stale.</summary>
    public void Changed() => Interlocked.Increment(ref _generation);
}

/// <summary>
/// LISTENs for <see cref="SettingsChanges.Channel"/> on a connection of its own, outside the pool
/// (it is held for the node's life; the requests' pool keeps its full size), reconnecting when it drops.
/// </summary>
public sealed class SettingsChangeListener(IConfiguration configuration, SettingsChanges changes, ILogger<SettingsChangeListener> logger) : BackgroundService
{
    private readonly string _connectionString = new NpgsqlConnectionStringBuilder(
        configuration.GetConnectionString("Callern") ?? throw new InvalidOperationException("ConnectionStrings:Callern is not set."))
    { Pooling = false }.ConnectionString;

    /// <summary>A listening connection that has heard nothing for this long proves it is alive with a query.</summary>
    private static readonly TimeSpan ProbeAfter = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan RetryAfter = TimeSpan.FromSeconds(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (true)
        {
            try
            {
                await ListenAsync(stoppingToken);
            }
            catch (Exception error) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning("Not listening for settings changes ({Error}); caches expire after {Seconds} s until it is back.",
                    error.Message, SettingsStore.CacheFor.TotalSeconds);
            }
            // Cancelled at shutdown: the host expects that.
            await Task.Delay(RetryAfter, stoppingToken);
        }
    }

    private async Task ListenAsync(CancellationToken stoppingToken)
    {
        await using var connection = new NpgsqlConnection(_connectionString);
        await connection.OpenAsync(stoppingToken);
        connection.Notification += (_, _) => changes.Changed();
        await using (var listen = new NpgsqlCommand($"LISTEN {SettingsChanges.Channel}", connection))
        {
            await listen.ExecuteNonQueryAsync(stoppingToken);
        }
        // Whatever changed while nobody listened.
        changes.Changed();
        while (!stoppingToken.IsCancellationRequested)
        {
            if (!await connection.WaitAsync(ProbeAfter, stoppingToken))
            {
                await using var probe = new NpgsqlCommand("SELECT 1", connection);
                await probe.ExecuteScalarAsync(stoppingToken);
            }
        }
    }
}
