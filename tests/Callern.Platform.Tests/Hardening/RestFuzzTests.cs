using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CsCheck;

namespace Callern.Platform.Tests.Hardening;

/// <summary>One generated request; its description is what a failure prints (CsCheck prints the case and its seed).</summary>
public sealed record FuzzRequest(string Role, string Method, string Url, string? ContentType, byte[]? Body, string? IdempotencyKey, string Defect)
{
    public override string ToString()
    {
        var body = Body is null ? "" : Encoding.UTF8.GetString(Body, 0, Math.Min(Body.Length, 300)) + (Body.Length > 300 ? $"… ({Body.Length} bytes)" : "");
        var url = Url.Length > 200 ? Url[..200] + "…" : Url;
        return $"[{Defect}] as {Role}: {Method} {url} ({ContentType}) {body}";
    }
}

/// <summary>
/// Walks every operation of docs/openapi.json, as every role, with requests that break the document:
/// wrong types, unknown fields, NUL and control characters, 1 MB strings, extreme numbers, bad enums,
/// malformed JSON, wrong content types, garbage path values, cursors and query values. Every answer is
/// below 500, every refusal is problem details, and no request that changes something when valid
/// changed anything: the database is compared before and after each operation.
/// </summary>
public sealed class RestFuzzTests(FuzzWorld world) : IClassFixture<FuzzWorld>
{
    /// <summary>Requests per operation and role (about 60 operations × 8 roles).</summary>
    private const int CasesPerRole = 5;

    private static readonly OpenApiOperations Document = OpenApiOperations.Load();

    public static TheoryData<string> Operations() => new(Document.Operations.Select(o => o.ToString()));

    [Fact]
    public void The_walk_covers_every_operation_of_the_document() =>
        Assert.Equal(Document.Operations.Count, Operations().Count);

    [Theory]
    [MemberData(nameof(Operations))]
    public async Task Bad_input_to_an_operation_is_a_4xx_problem_and_changes_nothing(string name)
    {
        var operation = Document.Operations.Single(o => o.ToString() == name);
        var before = await world.SnapshotAsync();
        foreach (var role in world.Roles.Keys)
        {
            await Gen.Int[0, 1 << 20].Array[16].Select(choices => Build(operation, role, new Choices(choices)))
                .SampleAsync(SendAsync, iter: CasesPerRole, threads: 1);
        }
        var after = await world.SnapshotAsync();
        Assert.True(after.DifferencesFrom(before) is "", $"{name} changed the database:\n{after.DifferencesFrom(before)}");
    }

    private async Task SendAsync(FuzzRequest request)
    {
        using var message = new HttpRequestMessage(new HttpMethod(request.Method), new Uri(request.Url, UriKind.Relative));
        if (request.Body is not null)
        {
            message.Content = new ByteArrayContent(request.Body);
            if (request.ContentType is not null)
            {
                message.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(request.ContentType);
            }
        }
        if (request.IdempotencyKey is not null)
        {
            message.Headers.TryAddWithoutValidation("Idempotency-Key", request.IdempotencyKey);
        }
        using var response = await world.Roles[request.Role].SendAsync(message);
        var status = (int)response.StatusCode;
        Assert.True(status < 500, $"{status} for {request}: {await response.Content.ReadAsStringAsync()}");
        if (status >= 400)
        {
            Assert.True(response.Content.Headers.ContentType?.MediaType == "application/problem+json",
                $"{status} without problem details ({response.Content.Headers.ContentType}) for {request}");
        }
    }

    /// <summary>
    /// A request with at least one defect. An operation that changes something gets a bad body when it
    /// has one, else a bad path value; a read may get any mix, and unknown or garbage query values.
    /// </summary>
    private FuzzRequest Build(OpenApiOperation operation, string role, Choices pick)
    {
        var defects = new List<string>();
        var pathParameters = operation.PathParameters.ToList();
        var mustBreakPath = !operation.IsRead && operation.BodyType is null;
        var forced = mustBreakPath ? pick.Next(pathParameters.Count) : -1;
        var path = operation.Path;
        for (var i = 0; i < pathParameters.Count; i++)
        {
            var value = world.ValidPathValue(operation.Path, pathParameters[i]);
            if (i == forced || pick.Next(3) == 0)
            {
                value = pick.Of(BadValues.PathValues);
                defects.Add($"path {pathParameters[i]}");
            }
            path = path.Replace("{" + pathParameters[i] + "}", value, StringComparison.Ordinal);
        }
        var query = new List<string>();
        foreach (var parameter in operation.QueryParameters)
        {
            switch (pick.Next(3))
            {
                case 1:
                    query.Add($"{parameter}={pick.Of(BadValues.UrlValues)}");
                    defects.Add($"query {parameter}");
                    break;
                case 2:
                    query.Add($"{parameter}=1");
                    break;
            }
        }
        if (pick.Next(4) == 0)
        {
            query.Add($"unknown{pick.Next(3)}={pick.Of(BadValues.UrlValues)}");
            defects.Add("unknown query");
        }
        var url = query.Count == 0 ? path : $"{path}?{string.Join('&', query)}";
        var idempotencyKey = operation.Parameters.Any(p => p.Name == "Idempotency-Key")
            ? pick.Of([Guid.NewGuid().ToString(), "", "k", new string('k', 400)])
            : null;
        return operation.BodyType switch
        {
            "application/json" => Json(operation, role, url, idempotencyKey, defects, pick),
            "multipart/form-data" => Multipart(operation, role, url, defects, pick),
            _ => new FuzzRequest(role, operation.Method, url, null, null, idempotencyKey, string.Join(", ", defects.DefaultIfEmpty("none"))),
        };
    }

    private static FuzzRequest Json(OpenApiOperation operation, string role, string url, string? idempotencyKey, List<string> defects, Choices pick)
    {
        var contentType = "application/json";
        var value = Sample(operation.BodySchema!, pick, depth: 0);
        string body;
        switch (pick.Next(9))
        {
            case 0:
                body = pick.Of(BadValues.MalformedJson);
                defects.Add("malformed JSON");
                break;
            case 1:
                body = pick.Of(BadValues.WrongTopLevel);
                defects.Add("not an object");
                break;
            case 2:
                value.AsObject()["unknownField" + pick.Next(3)] = pick.Next(2) == 0 ? 1 : "x";
                body = value.ToJsonString();
                defects.Add("unknown property");
                break;
            case 3:
                contentType = pick.Of(["text/plain", "application/xml", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]);
                body = value.ToJsonString();
                defects.Add("wrong content type");
                break;
            default:
                body = Break(value.AsObject(), operation.BodySchema!, pick, defects);
                break;
        }
        return new FuzzRequest(role, operation.Method, url, contentType, Encoding.UTF8.GetBytes(body), idempotencyKey, string.Join(", ", defects));
    }

    /// <summary>One property (possibly nested) gets a value its schema forbids; the body is written as raw JSON.</summary>
    private static string Break(JsonObject value, JsonObject schema, Choices pick, List<string> defects)
    {
        var properties = Document.Resolve(schema)["properties"]?.AsObject().ToList() ?? [];
        if (properties.Count == 0)
        {
            value["unknownField"] = 1;
            defects.Add("unknown property");
            return value.ToJsonString();
        }
        var (name, node) = properties[pick.Next(properties.Count)];
        var property = Document.Resolve(node!.AsObject());
        var type = property["type"]?.GetValue<string>() ?? (property["enum"] is not null ? "string" : "object");
        if (type == "object" && property["properties"] is not null && value[name] is JsonObject nested && pick.Next(2) == 0)
        {
            defects.Add($"in {name}:");
            var inner = Break(nested, property, pick, defects);
            value[name] = "\u0001PLACEHOLDER\u0001";
            return value.ToJsonString().Replace("\"\\u0001PLACEHOLDER\\u0001\"", inner, StringComparison.Ordinal);
        }
        string raw;
        switch (pick.Next(4))
        {
            case 0:
                raw = type switch
                {
                    "string" => pick.Of(["5", "true", "{}", "[\"a\"]"]),
                    "integer" or "number" => pick.Of(["\"60\"", "true", "{}", "[1]"]),
                    "boolean" => pick.Of(["\"true\"", "1", "{}", "[]"]),
                    "array" => pick.Of(["\"a\"", "1", "{}", "true"]),
                    _ => pick.Of(["\"a\"", "1", "true", "[]"]),
                };
                defects.Add($"{name}: wrong type");
                break;
            case 1 when type == "integer":
                raw = pick.Of(BadValues.Integers);
                defects.Add($"{name}: extreme integer");
                break;
            case 1 when type == "number":
                raw = pick.Of(BadValues.Numbers);
                defects.Add($"{name}: extreme number");
                break;
            case 1 when property["enum"] is not null:
                raw = pick.Of(["\"notAValue\"", "\"\"", "\"1\"", "1"]);
                defects.Add($"{name}: bad enum");
                break;
            case 2 when type == "string":
                raw = pick.Next(4) == 0 ? "\"\\ud800x\"" : JsonSerializer.Serialize(pick.Of(BadValues.Texts) + "text");
                defects.Add($"{name}: unstorable text");
                break;
            case 2 when type == "array":
                raw = pick.Next(2) == 0 ? "[\"a\\u0000\"]" : "[5]";
                defects.Add($"{name}: bad item");
                break;
            default:
                raw = JsonSerializer.Serialize(new string('x', 1024 * 1024 + 10));
                defects.Add($"{name}: 1 MB string");
                break;
        }
        value[name] = "\u0001PLACEHOLDER\u0001";
        return value.ToJsonString().Replace("\"\\u0001PLACEHOLDER\\u0001\"", raw, StringComparison.Ordinal);
    }

    /// <summary>A value of the schema's shape (not necessarily one the platform accepts): the base a defect is put into.</summary>
    private static JsonNode Sample(JsonObject schema, Choices pick, int depth)
    {
        schema = Document.Resolve(schema);
        if (schema["enum"] is JsonArray values)
        {
            return values[pick.Next(values.Count)]!.DeepClone();
        }
        return (schema["type"]?.GetValue<string>()) switch
        {
            "string" => schema["format"]?.GetValue<string>() switch
            {
                "uuid" => Guid.NewGuid().ToString(),
                "date-time" => "2026-01-01T00:00:00Z",
                _ => pick.Of(["en", "B1", "x", "Europe/Berlin"]),
            },
            "integer" => pick.Next(60) + 1,
            "number" => 1.5m,
            "boolean" => true,
            "array" => new JsonArray(schema["items"] is JsonObject items && depth < 4 ? [Sample(items, pick, depth + 1)] : []),
            _ => new JsonObject((schema["properties"]?.AsObject() ?? new JsonObject()).Where(_ => depth < 4)
                .Select(p => KeyValuePair.Create(p.Key, (JsonNode?)Sample(p.Value!.AsObject(), pick, depth + 1)))),
        };
    }

    /// <summary>The upload's body broken: cut short, no boundary, no file field, a control character in the file name, or not multipart at all.</summary>
    private static FuzzRequest Multipart(OpenApiOperation operation, string role, string url, List<string> defects, Choices pick)
    {
        const string boundary = "fuzzboundary";
        var whole = $"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"notes.pdf\"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.7\n{new string('x', 600)}\r\n--{boundary}--\r\n";
        var (contentType, body, defect) = pick.Next(6) switch
        {
            0 => ($"multipart/form-data; boundary={boundary}", whole[..(whole.Length / 2)], "truncated multipart"),
            1 => ($"multipart/form-data; boundary={boundary}", whole[..whole.IndexOf("\r\n\r\n", StringComparison.Ordinal)], "truncated part headers"),
            2 => ("multipart/form-data", whole, "no boundary"),
            3 => ($"multipart/form-data; boundary={boundary}", whole.Replace("name=\"file\"", "name=\"other\"", StringComparison.Ordinal), "no file field"),
            4 => ($"multipart/form-data; boundary={boundary}", whole.Replace("notes.pdf", "no\u0001tes.pdf", StringComparison.Ordinal), "control character in file name"),
            _ => (pick.Of(["application/json", "text/plain"]), "{\"file\":\"x\"}", "not multipart"),
        };
        defects.Add(defect);
        return new FuzzRequest(role, operation.Method, url, contentType, Encoding.UTF8.GetBytes(body), null, string.Join(", ", defects));
    }

    /// <summary>Choices drawn by CsCheck, consumed in order (it shrinks them toward 0: toward the first options).</summary>
    private sealed class Choices(int[] values)
    {
        private int _next;

        public int Next(int count) => count <= 1 ? 0 : values[_next++ % values.Length] % count;

        public T Of<T>(IReadOnlyList<T> options) => options[Next(options.Count)];
    }
}
