using System.Reflection;
using System.Text.Json;
using System.Text.RegularExpressions;
using Callern.Platform.Signaling;
using Callern.Platform.Tests.Signaling;
using Callern.Sdk;
using CsCheck;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;

namespace Callern.Platform.Tests.Hardening;

/// <summary>
/// Every hub method of <see cref="CallsHub"/>, as each role (the call's student and teacher, an admin,
/// another school's student), with at least one bad argument: unknown or malformed ids, wrong JSON
/// types, null messages, NUL and control characters in any string of a message, one argument too
/// many. Each answer is a coded hub error (<c>invalid_argument</c>, <c>not_found</c>, <c>forbidden</c>…),
/// never an uncoded server error; the connection stays open; nothing changes.
/// </summary>
public sealed partial class HubFuzzTests(FuzzWorld world) : IClassFixture<FuzzWorld>
{
    private const int CasesPerRole = 12;

    public static TheoryData<string> Methods() => new(typeof(CallsHub)
        .GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly)
        .Where(m => !m.IsSpecialName && m.Name is not (nameof(Hub.OnConnectedAsync) or nameof(Hub.OnDisconnectedAsync)))
        .Select(m => m.Name).Order(StringComparer.Ordinal));

    [Theory]
    [MemberData(nameof(Methods))]
    public async Task Bad_arguments_get_a_coded_error_and_change_nothing(string name)
    {
        var method = typeof(CallsHub).GetMethod(name)!;
        var outsider = await HubClient.ConnectAsync(world, world.OtherSchool, "s", CallernRoles.Student);
        var admin = await HubClient.ConnectAsync(world, world.School, "admin-1", CallernRoles.Admin);
        try
        {
            var roles = new Dictionary<string, HubConnection>
            {
                ["student"] = world.Pair.Student.Connection,
                ["teacher"] = world.Pair.Teacher.Connection,
                ["admin"] = admin.Connection,
                ["otherSchoolStudent"] = outsider.Connection,
            };
            var before = await world.SnapshotAsync();
            foreach (var (role, connection) in roles)
            {
                await Gen.Int[0, 1 << 20].Array[12].Select(choices => Build(method, role, choices))
                    .SampleAsync(c => InvokeAsync(connection, c), iter: CasesPerRole, threads: 1);
                Assert.Equal(HubConnectionState.Connected, connection.State);
            }
            var after = await world.SnapshotAsync();
            Assert.True(after.DifferencesFrom(before) is "", $"{name} changed the database:\n{after.DifferencesFrom(before)}");
        }
        finally
        {
            await outsider.DisposeAsync();
            await admin.DisposeAsync();
        }
    }

    private static async Task InvokeAsync(HubConnection connection, HubCase invocation)
    {
        try
        {
            await connection.InvokeCoreAsync(invocation.Method, typeof(JsonElement), invocation.Arguments);
        }
        catch (HubException error)
        {
            // SignalR prefixes every HubException's text with "An unexpected error occurred invoking …"; a
            // coded error follows it. An exception of the server's own has no code: that is the 5xx of the hub.
            Assert.True(Coded().IsMatch(error.Message), $"Uncoded error \"{error.Message}\" for {invocation}");
        }
    }

    /// <summary>Arguments for the method, one of them (at least) bad; the others are the live call's id or plain values.</summary>
    private HubCase Build(MethodInfo method, string role, int[] choices)
    {
        var next = 0;
        int Next(int count) => choices[next++ % choices.Length] % count;
        var parameters = method.GetParameters();
        var bad = Next(parameters.Length);
        var arguments = new object?[parameters.Length];
        for (var i = 0; i < parameters.Length; i++)
        {
            var type = parameters[i].ParameterType;
            if (i != bad)
            {
                arguments[i] = Json(type == typeof(Guid) ? $"\"{world.CallId}\"" : type == typeof(string) ? "\"hello\"" : type == typeof(long) ? "0" : "null");
                continue;
            }
            arguments[i] = Json(BadArgument(type, Next));
        }
        if (Next(8) == 0)
        {
            arguments = [.. arguments, Json("1")];
        }
        return new HubCase(role, method.Name, arguments);
    }

    /// <summary>A bad value for a parameter of this type, as raw JSON: one SignalR cannot bind, or one the method must refuse.</summary>
    private static string BadArgument(Type type, Func<int, int> next)
    {
        if (type == typeof(Guid))
        {
            return next(3) switch
            {
                0 => $"\"{Guid.NewGuid()}\"",
                1 => $"\"{Guid.Empty}\"",
                _ => Pick(["\"AAAA\"", "5", "null", "{}", "\"\\u0000\""], next),
            };
        }
        if (type == typeof(string))
        {
            return next(4) == 0
                ? Pick(["5", "{}", "[]"], next)
                : JsonSerializer.Serialize("x" + Pick(BadValues.Texts, next) + "y");
        }
        if (type == typeof(long))
        {
            return Pick(["\"1\"", "1.5", "1e400", "{}", "null"], next);
        }
        if (type.IsEnum)
        {
            return next(2) == 0 ? "\"notAStatus\"" : Pick(["99", "null", "{}"], next);
        }
        var properties = type.GetProperties(BindingFlags.Public | BindingFlags.Instance);
        var strings = properties.Where(p => p.PropertyType == typeof(string) || p.PropertyType == typeof(JsonElement)
            || p.PropertyType.IsAssignableTo(typeof(IEnumerable<string>))).ToList();
        switch (next(4))
        {
            case 0:
                return "null";
            case 1:
                return Pick(["\"text\"", "5", "[]", "true"], next);
            default:
                if (strings.Count == 0)
                {
                    return "{\"" + JsonNamingPolicy.CamelCase.ConvertName(properties[next(properties.Length)].Name) + "\": {\"x\": [1]}}";
                }
                var property = strings[next(strings.Count)];
                var text = JsonSerializer.Serialize("a" + Pick(BadValues.Texts, next) + "b");
                var value = property.PropertyType == typeof(string) ? text
                    : property.PropertyType == typeof(JsonElement) ? "{\"points\": [" + text + "], " + text + ": 1}"
                    : "[" + text + "]";
                return "{\"" + JsonNamingPolicy.CamelCase.ConvertName(property.Name) + "\": " + value + "}";
        }
    }

    private static T Pick<T>(IReadOnlyList<T> options, Func<int, int> next) => options[next(options.Count)];

    private static JsonElement Json(string raw) => JsonDocument.Parse(raw).RootElement.Clone();

    [GeneratedRegex(@"HubException: [a-z_]+: ")]
    private static partial Regex Coded();

    public sealed record HubCase(string Role, string Method, object?[] Arguments)
    {
        public override string ToString() => $"{Method}({string.Join(", ", Arguments.Select(a => ((JsonElement)a!).GetRawText()))}) as {Role}";
    }
}
