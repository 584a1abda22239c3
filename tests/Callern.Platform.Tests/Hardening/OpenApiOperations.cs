using System.Text.Json.Nodes;

namespace Callern.Platform.Tests.Hardening;

/// <summary>One operation of docs/openapi.json: its method, path template, parameters and body schema.</summary>
public sealed record OpenApiOperation(string Method, string Path, IReadOnlyList<(string Name, string In)> Parameters, string? BodyType, JsonObject? BodySchema)
{
    public IEnumerable<string> PathParameters => Parameters.Where(p => p.In == "path").Select(p => p.Name);
    public IEnumerable<string> QueryParameters => Parameters.Where(p => p.In == "query").Select(p => p.Name);
    public bool IsRead => Method == "GET";
    public override string ToString() => $"{Method} {Path}";
}

/// <summary>The committed OpenAPI document, read as the SDKs read it: every operation, schemas resolved on demand.</summary>
public sealed class OpenApiOperations
{
    private readonly JsonObject _schemas;

    private OpenApiOperations(JsonObject document)
    {
        _schemas = document["components"]!["schemas"]!.AsObject();
        Operations = document["paths"]!.AsObject()
            .SelectMany(path => path.Value!.AsObject().Select(op =>
            {
                var parameters = (op.Value!["parameters"]?.AsArray() ?? [])
                    .Select(p => (p!["name"]!.GetValue<string>(), p["in"]!.GetValue<string>())).ToList();
                var content = op.Value["requestBody"]?["content"]?.AsObject().FirstOrDefault();
                return new OpenApiOperation(op.Key.ToUpperInvariant(), path.Key, parameters, content?.Key,
                    content?.Value?["schema"] is JsonObject schema ? Resolve(schema) : null);
            }))
            .ToList();
    }

    public IReadOnlyList<OpenApiOperation> Operations { get; }

    public static OpenApiOperations Load()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Callern.sln")))
        {
            root = root.Parent;
        }
        var text = File.ReadAllText(Path.Combine(root!.FullName, "docs", "openapi.json"));
        return new OpenApiOperations(JsonNode.Parse(text)!.AsObject());
    }

    /// <summary>A schema with its <c>$ref</c> followed (one level: nested references are resolved as they are walked).</summary>
    public JsonObject Resolve(JsonObject schema) =>
        schema["$ref"]?.GetValue<string>() is { } reference
            ? _schemas[reference["#/components/schemas/".Length..]]!.AsObject()
            : schema;
}
