using System.Buffers;
using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;

/// <summary>
/// A hub connection for the load generator: SignalR's JSON hub protocol over a plain WebSocket, the
/// same frames a browser SDK sends, written and read with almost no allocation per signal. With the
/// official .NET client the generator spent as much CPU per signal as the platform and paused for
/// its own garbage collections about a tenth of the time, which showed up as relay latency.
/// Events (<see cref="On"/>) run on the receive loop: a handler that invokes must not wait there.
/// </summary>
internal sealed class LeanHubConnection : BenchWebSocket
{
    private const byte Separator = 0x1e;
    private static readonly TimeSpan PingEvery = TimeSpan.FromSeconds(10);
    private static readonly byte[] Handshake = Encoding.UTF8.GetBytes("{\"protocol\":\"json\",\"version\":1}\u001e");
    private static readonly byte[] Ping = Encoding.UTF8.GetBytes("{\"type\":6}\u001e");
    private static readonly byte[] PayloadKey = Encoding.UTF8.GetBytes("\"payload\":\"");
    private static readonly byte[] SignalTarget = Encoding.UTF8.GetBytes("\"target\":\"Signal\"");

    private readonly ConcurrentDictionary<long, (TaskCompletionSource<JsonElement> Completion, bool KeepResult)> _pending = new();
    private readonly Dictionary<string, Action<JsonElement>> _handlers = [];
    private readonly Uri _hub;
    private byte[] _frame = new byte[4096];
    /// <summary>How much of <see cref="_frame"/> the message being written fills (while it is written, no other is).</summary>
    private int _length;
    private Action<long>? _onSignal;
    private bool _handshaken;
    private long _lastId;

    /// <param name="readServingNode">Keep the X-Callern-Node header of the upgrade's response (the node the balancer chose) in <see cref="ServingNode"/>.</param>
    public LeanHubConnection(Uri hub, string accessToken, bool readServingNode = false)
    {
        _hub = new UriBuilder(hub) { Scheme = hub.Scheme == "https" ? "wss" : "ws" }.Uri;
        Socket.Options.SetRequestHeader("Authorization", $"Bearer {accessToken}");
        Socket.Options.CollectHttpResponseDetails = readServingNode;
    }

    /// <summary>The balancer's X-Callern-Node answer to the WebSocket upgrade (host:port of the node), when asked for.</summary>
    public string? ServingNode { get; private set; }

    public void On(string target, Action<JsonElement> handler) => _handlers[target] = handler;

    /// <summary>Signals are read on a fast path: the handler gets the Stopwatch timestamp that opens the payload.</summary>
    public void OnSignal(Action<long> handler) => _onSignal = handler;

    public async Task StartAsync()
    {
        await Socket.ConnectAsync(_hub, CancellationToken.None);
        if (Socket.HttpResponseHeaders is { } headers)
        {
            ServingNode = headers.TryGetValue("X-Callern-Node", out var node) ? node.FirstOrDefault() : null;
            // Only that one header is needed: the rest would be held for the connection's life.
            Socket.HttpResponseHeaders = null;
        }
        await SendAsync(Handshake);
        // The server closes a connection that sends nothing for 30 s.
        StartLoops(Ping, PingEvery);
    }

    public Task<JsonElement> InvokeAsync(string target, params object?[] arguments)
    {
        var (id, completion) = Register();
        var json = JsonSerializer.SerializeToUtf8Bytes(new { type = 1, invocationId = id.ToString(), target, arguments }, JsonSerializerOptions.Web);
        return SendThenWaitAsync([.. json, Separator], completion);
    }

    /// <summary>The stats sample a browser's SDK sends with each confirmation (the figures do not matter, their size does).</summary>
    private const string StatsSample =
        ",\"stats\":{\"rttMs\":42.5,\"packetLossIn\":0.001,\"packetLossOut\":0.002,\"jitterMs\":3.1,\"bitrateInBps\":1200000,\"bitrateOutBps\":1100000,"
        + "\"bytesReceived\":150000000,\"bytesSent\":140000000,\"localCandidateType\":\"relay\",\"remoteCandidateType\":\"relay\"}";

    /// <summary>
    /// ConfirmMedia(callId, { sampledAt: now, inboundBytes, stats }), built in place as a browser's SDK
    /// sends it every 4 s: <paramref name="answered"/>, the platform answers it (read only for an
    /// error); else it is sent without an invocation id and gets no answer.
    /// </summary>
    public Task ConfirmMediaAsync(Guid callId, long inboundBytes, bool answered) => InvokeInPlaceAsync("ConfirmMedia", callId, answered, () =>
    {
        Append("{\"sampledAt\":\"");
        Append(DateTimeOffset.UtcNow);
        Append("\",\"inboundBytes\":");
        Append(inboundBytes);
        Append(StatsSample);
        Append("}");
    });

    /// <summary>SendSignal(callId, { type: "candidate", payload: "<sentAt>;<padding>" }), built in place.</summary>
    public Task SendSignalAsync(Guid callId, long sentAt, string padding) => InvokeInPlaceAsync("SendSignal", callId, answered: true, () =>
    {
        Append("{\"type\":\"candidate\",\"payload\":\"");
        Append(sentAt);
        Append(";");
        Append(padding);
        Append("\"}");
    });

    /// <summary>
    /// Invokes <paramref name="target"/>(callId, second argument) in one frame written in place (no
    /// serializer, no buffer per message); when <paramref name="answered"/>, the answer is awaited and
    /// read only for an error.
    /// </summary>
    private async Task InvokeInPlaceAsync(string target, Guid callId, bool answered, Action writeSecondArgument)
    {
        var (id, completion) = answered ? Register(keepResult: false) : (0, null);
        await SendAsync(invocation => invocation.Connection.WriteInvocation(invocation.Target, invocation.CallId, invocation.Id, writeSecondArgument),
            (Connection: this, Target: target, CallId: callId, Id: completion is null ? (long?)null : id));
        if (completion is not null)
        {
            await completion.Task;
        }
    }

    /// <summary>The invocation's frame, written in place; with an invocation id when <paramref name="id"/> is given (the answer is awaited).</summary>
    private ReadOnlyMemory<byte> WriteInvocation(string target, Guid callId, long? id, Action writeSecondArgument)
    {
        _length = 0;
        Append("{\"type\":1,");
        if (id is { } invocationId)
        {
            Append("\"invocationId\":\"");
            Append(invocationId);
            Append("\",");
        }
        Append("\"target\":\"");
        Append(target);
        Append("\",\"arguments\":[\"");
        Append(callId);
        Append("\",");
        writeSecondArgument();
        Append("]}\u001e");
        return _frame.AsMemory(0, _length);
    }

    private void Append(string ascii) => _length += Encoding.ASCII.GetBytes(ascii, _frame.AsSpan(_length));

    private void Append(long value)
    {
        Utf8Formatter.TryFormat(value, _frame.AsSpan(_length), out var written);
        _length += written;
    }

    private void Append(Guid value)
    {
        Utf8Formatter.TryFormat(value, _frame.AsSpan(_length), out var written);
        _length += written;
    }

    private void Append(DateTimeOffset value)
    {
        Utf8Formatter.TryFormat(value, _frame.AsSpan(_length), out var written, new StandardFormat('O'));
        _length += written;
    }

    private (long Id, TaskCompletionSource<JsonElement> Completion) Register(bool keepResult = true)
    {
        var id = Interlocked.Increment(ref _lastId);
        var completion = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = (completion, keepResult);
        return (id, completion);
    }

    private async Task<JsonElement> SendThenWaitAsync(byte[] message, TaskCompletionSource<JsonElement> completion)
    {
        await SendAsync(message);
        return await completion.Task;
    }

    /// <summary>Every whole record (up to its separator): the handshake's answer first, then hub messages.</summary>
    protected override int Consume(ReadOnlySpan<byte> received, bool endOfMessage)
    {
        var start = 0;
        for (int end; (end = received[start..].IndexOf(Separator)) >= 0; start += end + 1)
        {
            var record = received.Slice(start, end);
            if (!_handshaken)
            {
                _handshaken = record.SequenceEqual("{}"u8) ? true : throw new InvalidOperationException($"Handshake refused: {Encoding.UTF8.GetString(record)}");
                continue;
            }
            Dispatch(record);
        }
        return start;
    }

    protected override void Closed()
    {
        foreach (var (_, pending) in _pending)
        {
            pending.Completion.TrySetException(new InvalidOperationException("The connection closed."));
        }
    }

    private void Dispatch(ReadOnlySpan<byte> record)
    {
        if (_onSignal is not null && record.IndexOf(SignalTarget) >= 0)
        {
            var payload = record[(record.IndexOf(PayloadKey) + PayloadKey.Length)..];
            Utf8Parser.TryParse(payload, out long sentAt, out _);
            _onSignal(sentAt);
            return;
        }
        var (type, id, target, error, hasResult) = Header(record);
        if (type == 3 && _pending.TryRemove(id, out var pending))
        {
            var completion = pending.Completion;
            if (error is not null)
            {
                completion.SetException(new InvalidOperationException(error));
            }
            else if (hasResult && pending.KeepResult)
            {
                using var document = JsonDocument.Parse(record.ToArray());
                completion.SetResult(document.RootElement.GetProperty("result").Clone());
            }
            else
            {
                completion.SetResult(default);
            }
        }
        else if (type == 1 && target is not null && _handlers.TryGetValue(target, out var handler))
        {
            using var document = JsonDocument.Parse(record.ToArray());
            handler(document.RootElement.GetProperty("arguments")[0].Clone());
        }
    }

    // The top-level type, invocationId, target and error of a hub message, and whether it has a
    // result, without building a document.
    private static (int Type, long Id, string? Target, string? Error, bool HasResult) Header(ReadOnlySpan<byte> record)
    {
        var reader = new Utf8JsonReader(record);
        var (type, id, target, error, hasResult) = (0, 0L, (string?)null, (string?)null, false);
        reader.Read();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = reader.ValueSpan;
            reader.Read();
            if (name.SequenceEqual("type"u8))
            {
                type = reader.GetInt32();
            }
            else if (name.SequenceEqual("invocationId"u8))
            {
                id = long.Parse(reader.GetString()!, System.Globalization.CultureInfo.InvariantCulture);
            }
            else if (name.SequenceEqual("target"u8))
            {
                target = reader.GetString();
            }
            else if (name.SequenceEqual("error"u8))
            {
                error = reader.GetString();
            }
            else
            {
                hasResult |= name.SequenceEqual("result"u8);
                reader.Skip();
            }
        }
        return (type, id, target, error, hasResult);
    }
}
