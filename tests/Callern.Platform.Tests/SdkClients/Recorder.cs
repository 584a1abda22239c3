using System.Threading.Channels;

namespace Callern.Platform.Tests.SdkClients;

/// <summary>Records the payloads of one SDK event so a test can wait for the next, in order.</summary>
public sealed class Recorder<T>
{
    private readonly Channel<T> _received = Channel.CreateUnbounded<T>();

    /// <summary>The handler to subscribe: <c>client.IncomingCall += incoming.Record;</c>.</summary>
    public Task Record(T payload)
    {
        _received.Writer.TryWrite(payload);
        return Task.CompletedTask;
    }

    /// <summary>How many payloads arrived and were not taken yet.</summary>
    public int Pending => _received.Reader.Count;

    /// <summary>The next payload, failing after 10 s of real time.</summary>
    public async Task<T> NextAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            return await _received.Reader.ReadAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"No {typeof(T).Name} within 10 s.");
        }
    }
}
