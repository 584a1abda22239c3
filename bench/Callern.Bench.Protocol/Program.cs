// What the hub protocol costs the platform per relayed signal and per timer event, for each
// protocol the hub speaks (the same IHubProtocol instances the platform registers): reading a
// SendSignal invocation, writing the Signal event to the receiver and the completion to the
// sender; reading a ConfirmMedia with its stats; writing a CallTimer. Per operation: time,
// bytes allocated on the thread, bytes on the wire.
// Usage: dotnet run -c Release --project bench/Callern.Bench.Protocol [iterations]
using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using Callern.Platform.Calls;
using Callern.Platform.Signaling;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Protocol;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

var iterations = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 200_000;
var services = new ServiceCollection().AddLogging().AddSignaling(new ConfigurationBuilder().Build()).BuildServiceProvider();
var protocols = services.GetServices<IHubProtocol>().ToList();

var callId = Guid.CreateVersion7();
// The calls bench's signal: 500 bytes of payload, like an ICE candidate or a short SDP fragment.
var signal = new SignalMessage("candidate", new string('a', 500));
var sendSignal = new InvocationMessage("7", nameof(CallsHub.SendSignal), [callId, signal]);
var confirmMedia = new InvocationMessage("8", nameof(CallsHub.ConfirmMedia),
[
    callId,
    new MediaConfirmation(DateTimeOffset.UtcNow, 12_345_678, new CallStatsSample(42.5, 0.01, 0.02, 3.1, 812_000, 790_000, 12_345_678, 11_000_000, "relay", "host")),
]);
var signalEvent = new InvocationMessage("Signal", [new SignalEvent(callId, "teacher-jack", signal)]);
var completion = CompletionMessage.Empty("7");
var timer = new InvocationMessage("CallTimer", [new CallTimerEvent(callId, 1_234, 2_345, false)]);

Console.WriteLine($"{iterations} operations each; .NET {Environment.Version}, {Environment.ProcessorCount} cores");
Console.WriteLine($"{"protocol",-12} {"operation",-30} {"ns/op",8} {"B alloc/op",11} {"B on wire",10}");
foreach (var protocol in protocols)
{
    Report(protocol.Name, "read SendSignal", Read(protocol, sendSignal, [typeof(Guid), typeof(SignalMessage)]));
    Report(protocol.Name, "write Signal event", Write(protocol, signalEvent));
    Report(protocol.Name, "write completion", Write(protocol, completion));
    Report(protocol.Name, "read ConfirmMedia (with stats)", Read(protocol, confirmMedia, [typeof(Guid), typeof(MediaConfirmation)]));
    Report(protocol.Name, "write CallTimer event", Write(protocol, timer));
}

void Report(string protocol, string operation, (double Ns, double Allocated, int Bytes) figures) =>
    Console.WriteLine($"{protocol,-12} {operation,-30} {figures.Ns,8:F0} {figures.Allocated,11:F0} {figures.Bytes,10}");

(double, double, int) Write(IHubProtocol protocol, HubMessage message)
{
    var buffer = new ArrayBufferWriter<byte>(4096);
    protocol.WriteMessage(message, buffer);
    var size = buffer.WrittenCount;
    return Measure(() =>
    {
        buffer.ResetWrittenCount();
        protocol.WriteMessage(message, buffer);
    }, size);
}

(double, double, int) Read(IHubProtocol protocol, HubMessage message, Type[] parameters)
{
    var bytes = protocol.GetMessageBytes(message);
    var binder = new Binder(parameters);
    return Measure(() =>
    {
        var input = new ReadOnlySequence<byte>(bytes);
        if (!protocol.TryParseMessage(ref input, binder, out var parsed) || parsed is not InvocationMessage { Arguments.Length: 2 })
        {
            throw new InvalidOperationException($"{protocol.Name} did not read its own {message}");
        }
    }, bytes.Length);
}

(double, double, int) Measure(Action operation, int size)
{
    for (var i = 0; i < 20_000; i++)
    {
        operation();
    }
    var allocated = GC.GetAllocatedBytesForCurrentThread();
    var started = Stopwatch.GetTimestamp();
    for (var i = 0; i < iterations; i++)
    {
        operation();
    }
    var elapsed = Stopwatch.GetElapsedTime(started);
    return (elapsed.TotalNanoseconds / iterations, (GC.GetAllocatedBytesForCurrentThread() - allocated) / (double)iterations, size);
}

sealed class Binder(Type[] parameters) : IInvocationBinder
{
    public IReadOnlyList<Type> GetParameterTypes(string methodName) => parameters;

    public Type GetReturnType(string invocationId) => typeof(object);

    public Type GetStreamItemType(string streamId) => typeof(object);
}
