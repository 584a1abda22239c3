using System.Diagnostics;

namespace Callern.Sdk.Realtime;

/// <summary>
/// The access token a connection attempt presents. SignalR asks for it twice in a row, for the
/// negotiate request and for the WebSocket it opens; both must carry the same token, because a
/// balancer in front of several nodes keeps the two on one node by hashing it (docs/deployment.md).
/// So a token is presented twice, within <see cref="ReuseFor"/>; any other request (the next
/// connect, a reconnect) asks the provider for a fresh one.
/// </summary>
internal sealed class ConnectionToken(Func<CancellationToken, ValueTask<string>> provider)
{
    public static readonly TimeSpan ReuseFor = TimeSpan.FromSeconds(5);

    private readonly SemaphoreSlim _fetching = new(1, 1);
    private string? _token;
    private long _fetchedAt;

    public async Task<string?> GetAsync()
    {
        await _fetching.WaitAsync();
        try
        {
            if (_token is { } fetched && Stopwatch.GetElapsedTime(_fetchedAt) < ReuseFor)
            {
                // The second request of this connect: the same token, and the next one fetches afresh.
                _token = null;
                return fetched;
            }
            _token = await provider(CancellationToken.None);
            _fetchedAt = Stopwatch.GetTimestamp();
            return _token;
        }
        finally
        {
            _fetching.Release();
        }
    }
}
