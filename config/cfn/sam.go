package cfn

// applyGlobals merges the Globals section into the SAM resources, as the
// SAM transform does: a resource's own value of a property wins over the
// global one; maps are merged key by key (Environment.Variables), lists
// are the global items followed by the resource's, and an intrinsic
// function is a single value (the resource's wins).
func (t *Template) applyGlobals(e *errs) {
	if t.globals == nil || t.globals.Kind != Map {
		return
	}
	for _, k := range t.globals.Keys {
		switch k {
		case "Function", "SimpleTable", "Api", "HttpApi", "StateMachine", "LayerVersion", "CapacityProvider":
		default:
			e.add("Globals."+k, t.globals.Fields[k].Line, "not a Globals section (want Function, SimpleTable, Api, HttpApi, ...)")
		}
	}
	for _, id := range t.order {
		r := t.resources[id]
		var g *Node
		switch r.typ {
		case "AWS::Serverless::Function":
			g = t.globals.Get("Function")
		case "AWS::Serverless::SimpleTable":
			g = t.globals.Get("SimpleTable")
		}
		if g == nil {
			continue
		}
		if g.Kind != Map {
			e.add("Globals", g.Line, "want a map of properties")
			return
		}
		if r.props == nil {
			r.props = g
			continue
		}
		merged := mergeGlobal(g, r.props)
		if a := r.props.Get("Architectures"); a != nil && merged.Kind == Map {
			merged.set("Architectures", a) // one architecture: the resource's replaces the global one
		}
		r.props = merged
	}
}

func mergeGlobal(global, local *Node) *Node {
	if global == nil {
		return local
	}
	if local == nil {
		return global
	}
	_, _, gi := global.intrinsic()
	_, _, li := local.intrinsic()
	if gi || li || global.Kind != local.Kind {
		return local
	}
	switch local.Kind {
	case Map:
		out := newMap(local.Line)
		for _, k := range global.Keys {
			out.set(k, global.Fields[k])
		}
		for _, k := range local.Keys {
			out.set(k, mergeGlobal(out.Fields[k], local.Fields[k]))
		}
		return out
	case List:
		out := &Node{Kind: List, Line: local.Line}
		out.Items = append(append(out.Items, global.Items...), local.Items...)
		return out
	}
	return local
}
