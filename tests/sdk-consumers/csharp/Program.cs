// A school's backend as it would use the packed SDK; the docs' C# snippets are compiled beside it
// (tests/scripts/sdk-packages.sh wraps each in a method of its own).
using Callern.Sdk;
using Callern.Sdk.Realtime;

var token = new AccessTokenBuilder("ck_example", "cs_example").ForUser("student-42", CallernRoles.Student, "Ana").Build();
await using var realtime = new CallernRealtimeClient(new CallernRealtimeOptions
{
    BaseUrl = new Uri("http://127.0.0.1:5080"),
    AccessTokenProvider = _ => ValueTask.FromResult(token),
});
realtime.CallEnded += e =>
{
    Console.WriteLine($"{e.CallId} ended: {e.Reason}, billed {e.BilledSeconds} s");
    return Task.CompletedTask;
};
using var http = new HttpClient(new IdempotentRetryHandler { InnerHandler = new SocketsHttpHandler() });
Console.WriteLine(new CallernClient(http) is ICallernClient);
